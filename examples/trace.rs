//! Replays a captured mail connection through the mailwire codecs and checks
//! that every message survives a round trip.
//!
//! ```text
//! cargo run --release --example trace -- pop3 CLIENT_BYTES SERVER_BYTES
//! cargo run --release --example trace -- imap CLIENT_BYTES SERVER_BYTES
//! cargo run --release --example trace -- imap-sessions CLIENT_BYTES SERVER_BYTES
//! ```
//!
//! `CLIENT_BYTES` and `SERVER_BYTES` hold the exact bytes each side of one
//! connection sent (for example the two directions of a TCP stream saved as
//! raw data). The server's bytes are framed by the client's commands, as a
//! real client would frame them: LIST without an argument answers with a
//! multi-line listing and LIST 1 with one line, RETR and TOP carry a body,
//! and AUTH is followed through its `+ base64` challenges and the client's
//! answers until the server's `+OK` or `-ERR`. Every command, response, SASL
//! line and body is decoded, encoded again and decoded again, and the two
//! values are compared.
//!
//! The output is one line per message: `DIR OFFSET SUMMARY ok` when it passes,
//! `DIR OFFSET FAIL "EXCERPT": ERROR` when it does not (DIR is `C` for the
//! client or `S` for the server, OFFSET a byte offset in that side's file,
//! EXCERPT up to 40 escaped bytes of the line there), notes that start with `--`,
//! and a last line `N passed, M failed`. The exit status is 0 when nothing
//! failed, 1 when something did, and 2 for a usage or I/O error. Passwords,
//! APOP digests and SASL data are never printed. Decoding stops where STLS
//! switches the connection to TLS.
//!
//! For IMAP, commands are read in order and, after each, the server's
//! responses up to its tagged completion; literals are framed as the
//! protocol says, AUTHENTICATE is followed through its challenges and the
//! client's data lines, IDLE through the server's `+` and the client's
//! DONE, and decoding stops where STARTTLS or COMPRESS change the stream.
//! Only the tag and name of a client command are printed.

use std::ffi::OsString;
use std::fmt;
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

/// How many bytes of the input a failure line shows.
const EXCERPT: usize = 40;

/// How many bytes of a line a summary shows.
const SUMMARY: usize = 60;

const USAGE: &str = "usage: trace PROTOCOL CLIENT_BYTES SERVER_BYTES

Decodes the bytes each side of one connection sent, checks that every
message survives a round trip through the codec, and prints one line per
message and a final `N passed, M failed`. Exit status: 0 all passed,
1 some failed, 2 usage or I/O error.

PROTOCOL is `pop3` or `imap` (the codec), or `imap-sessions`: the
connection replayed through an IMAP server session and client session,
one line per command.";

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    ExitCode::from(run(&args, &mut out, &mut io::stderr()))
}

/// The protocols the trace understands. Adding one takes a variant here, a
/// module with a `trace(client, server, report)` function like [`pop3`]
/// that reports through [`Report`], and an arm in [`run`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Pop3,
    Imap,
    ImapSessions,
}

/// Runs the trace with the arguments after the program name, writing the
/// report to `out` and problems with the arguments or files to `err`.
/// Returns the exit status.
pub fn run(args: &[OsString], out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    if args.len() == 1 && matches!(args[0].to_str(), Some("-h" | "--help")) {
        return match writeln!(out, "{USAGE}").and_then(|()| out.flush()) {
            Ok(()) => 0,
            Err(_) => 2,
        };
    }
    let [protocol, client_path, server_path] = args else {
        let _ = writeln!(err, "{USAGE}");
        return 2;
    };
    let protocol = match protocol.to_str() {
        Some("pop3") => Protocol::Pop3,
        Some("imap") => Protocol::Imap,
        Some("imap-sessions") => Protocol::ImapSessions,
        _ => {
            let _ = writeln!(
                err,
                "trace: unknown protocol {protocol:?}; use pop3, imap or imap-sessions\n\n{USAGE}"
            );
            return 2;
        }
    };
    let read = |path: &OsString, err: &mut dyn Write| match std::fs::read(path) {
        Ok(bytes) => Some(bytes),
        Err(e) => {
            let _ = writeln!(err, "trace: cannot read {}: {e}", path.to_string_lossy());
            None
        }
    };
    let (Some(client), Some(server)) = (read(client_path, err), read(server_path, err)) else {
        return 2;
    };
    let mut report = Report::new(out);
    let traced = match protocol {
        Protocol::Pop3 => pop3::trace(&client, &server, &mut report),
        Protocol::Imap => imap::trace(&client, &server, &mut report),
        Protocol::ImapSessions => imap_sessions::trace(&client, &server, &mut report),
    };
    match traced.and_then(|()| report.finish()) {
        Ok(()) if report.failed == 0 => 0,
        Ok(()) => 1,
        Err(e) => {
            let _ = writeln!(err, "trace: cannot write the report: {e}");
            2
        }
    }
}

/// Which side of the connection sent a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// The client (`C`).
    Client,
    /// The server (`S`).
    Server,
}

impl fmt::Display for Dir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Dir::Client => "C",
            Dir::Server => "S",
        })
    }
}

/// The report: one line per message, notes, and the final count.
pub struct Report<'w> {
    out: &'w mut dyn Write,
    /// Messages that decoded and survived the round trip.
    pub passed: u64,
    /// Messages that did not.
    pub failed: u64,
}

impl<'w> Report<'w> {
    /// A report written to `out`.
    pub fn new(out: &'w mut dyn Write) -> Self {
        Report {
            out,
            passed: 0,
            failed: 0,
        }
    }

    /// `DIR OFFSET SUMMARY ok`.
    pub fn pass(&mut self, dir: Dir, offset: usize, summary: &str) -> io::Result<()> {
        self.passed += 1;
        writeln!(self.out, "{dir} {offset} {summary} ok")
    }

    /// `DIR OFFSET FAIL "EXCERPT": ERROR`; `excerpt` is already escaped.
    pub fn fail(
        &mut self,
        dir: Dir,
        offset: usize,
        excerpt: &str,
        error: &dyn fmt::Display,
    ) -> io::Result<()> {
        self.failed += 1;
        writeln!(self.out, "{dir} {offset} FAIL \"{excerpt}\": {error}")
    }

    /// `-- NOTE`: something worth knowing that is not a message.
    pub fn note(&mut self, note: &dyn fmt::Display) -> io::Result<()> {
        writeln!(self.out, "-- {note}")
    }

    /// `N passed, M failed`, then flushes.
    pub fn finish(&mut self) -> io::Result<()> {
        writeln!(self.out, "{} passed, {} failed", self.passed, self.failed)?;
        self.out.flush()
    }
}

/// Up to `max` bytes of `bytes`, escaped so that the result is one line of
/// printable ASCII, with `...` when cut short.
pub fn escape(bytes: &[u8], max: usize) -> String {
    let mut s = String::with_capacity(max.min(bytes.len()) + 3);
    for &b in &bytes[..bytes.len().min(max)] {
        match b {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7E => s.push(char::from(b)),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    if bytes.len() > max {
        s.push_str("...");
    }
    s
}

/// The first line of `bytes`, terminator included, escaped and cut to
/// [`EXCERPT`] bytes: what a failure line shows. Later lines are never
/// shown, so an excerpt cannot reveal the credentials of the next command.
pub fn excerpt(bytes: &[u8]) -> String {
    let end = memchr(b'\n', bytes).map_or(bytes.len(), |lf| lf + 1);
    escape(&bytes[..end], EXCERPT)
}

/// The first line of `bytes` without its terminator (CRLF or bare LF).
fn first_line(bytes: &[u8]) -> &[u8] {
    let line = match memchr(b'\n', bytes) {
        Some(lf) => &bytes[..lf],
        None => bytes,
    };
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}

#[path = "trace/imap.rs"]
mod imap;
#[path = "trace/imap_sessions.rs"]
mod imap_sessions;

/// POP3 (RFC 1939 and extensions): the two streams walked in lock step,
/// each server response framed by the command it answers.
mod pop3 {
    use std::io;

    use mailwire::pop3::{
        BodyChunk, BodyDecoder, Command, DecodeError, Decoded, DecoderConfig, DotStuffer, Expect, Response,
        SaslResponse, decode_command, decode_response, decode_sasl_response, skip_line,
    };

    use super::{Dir, EXCERPT, Report, SUMMARY, escape, excerpt, first_line, memchr};

    /// Traces one connection: `client` and `server` are the bytes each side
    /// sent.
    pub fn trace(client: &[u8], server: &[u8], report: &mut Report<'_>) -> io::Result<()> {
        Tracer {
            client,
            server,
            c: 0,
            s: 0,
            config: DecoderConfig::default(),
            report,
        }
        .run()
    }

    /// How the server answered.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Reply {
        /// The server capture has no answer.
        Missing,
        /// `+OK` (with whatever data follows it).
        Ok,
        /// `-ERR`.
        Err,
        /// `+ base64`, a SASL challenge.
        Continuation,
        /// Something that does not decode.
        Failed {
            /// It starts with `+OK`, so the server probably accepted.
            plus_ok: bool,
            /// It looks like a SASL challenge.
            continuation: bool,
        },
    }

    struct Tracer<'a, 'r, 'w> {
        client: &'a [u8],
        server: &'a [u8],
        /// Where the next client message starts.
        c: usize,
        /// Where the next server message starts.
        s: usize,
        config: DecoderConfig,
        report: &'r mut Report<'w>,
    }

    impl Tracer<'_, '_, '_> {
        fn run(&mut self) -> io::Result<()> {
            if self.server.is_empty() {
                self.report.note(&"the server capture is empty: no greeting")?;
            } else {
                self.reply(Expect::Greeting, "the greeting")?;
            }
            let client = self.client;
            while self.c < client.len() {
                let start = self.c;
                match decode_command(&client[start..], &self.config) {
                    Ok(Decoded::Complete { value, consumed }) => {
                        self.c += consumed;
                        self.check_command(&value, start, consumed)?;
                        let keyword = value.keyword();
                        match value {
                            Command::Auth { .. } => self.sasl_exchange()?,
                            Command::Stls => {
                                let reply = self.reply(Expect::Status, keyword)?;
                                if matches!(reply, Reply::Ok | Reply::Failed { plus_ok: true, .. }) {
                                    return self.tls_started();
                                }
                            }
                            _ => {
                                self.reply(Expect::for_command(&value), keyword)?;
                            }
                        }
                    }
                    Ok(Decoded::Incomplete) => {
                        let excerpt = client_excerpt(&client[start..]);
                        self.report.fail(
                            Dir::Client,
                            start,
                            &excerpt,
                            &"the capture ends inside a command line",
                        )?;
                        self.c = client.len();
                    }
                    Err(e) => {
                        let rest = &client[start..];
                        let line = first_line(rest);
                        let sensitive = redacted(line).is_some();
                        self.report.fail(
                            Dir::Client,
                            start,
                            &client_excerpt(rest),
                            &absolute(&e, start, sensitive),
                        )?;
                        self.c = start + resume(&e, rest);
                        match guess_expect(line) {
                            Expect::Sasl => self.sasl_exchange()?,
                            expect => {
                                self.reply(expect, "an undecodable command")?;
                            }
                        }
                    }
                }
            }
            self.unsolicited()
        }

        /// Reports the command that starts at `start`, after checking that
        /// it survives encoding and decoding again.
        fn check_command(&mut self, command: &Command<'_>, start: usize, consumed: usize) -> io::Result<()> {
            let wire = &self.client[start..start + consumed];
            let sensitive = matches!(
                command,
                Command::Pass(_) | Command::Apop { .. } | Command::Auth { .. }
            );
            let summary = match command {
                Command::Pass(_) => "PASS <redacted>".to_owned(),
                Command::Apop { name, .. } => format!("APOP {} <redacted>", escape(name.as_inner(), SUMMARY)),
                Command::Auth {
                    mechanism,
                    initial_response,
                } => {
                    let ir = if initial_response.is_some() {
                        " <redacted>"
                    } else {
                        ""
                    };
                    format!("AUTH {}{ir}", mechanism.as_str())
                }
                _ => escape(first_line(wire), SUMMARY),
            };
            let encoded = command.to_bytes();
            let again = decode_command(&encoded, &self.config);
            match round_trip(again, &encoded, sensitive, |again| again == command) {
                Ok(()) => self.report.pass(Dir::Client, start, &summary),
                Err(problem) => self
                    .report
                    .fail(Dir::Client, start, &client_excerpt(wire), &problem),
            }
        }

        /// Decodes and reports the server's answer of the form `expect`;
        /// `what` names the command for messages.
        fn reply(&mut self, expect: Expect, what: &str) -> io::Result<Reply> {
            let server = self.server;
            let start = self.s;
            if start >= server.len() {
                self.report.note(&format_args!(
                    "no response to {what}: the server capture ends at offset {start}"
                ))?;
                return Ok(Reply::Missing);
            }
            let rest = &server[start..];
            // Bodies stream through BodyDecoder after the status line.
            let wire_expect = if expect == Expect::Message {
                Expect::Status
            } else {
                expect
            };
            match decode_response(rest, wire_expect, &self.config) {
                Ok(Decoded::Complete { value, consumed }) => {
                    self.s += consumed;
                    let reply = match &value {
                        Response::Continuation(_) => Reply::Continuation,
                        Response::Status(status) if !status.is_ok() => Reply::Err,
                        _ => Reply::Ok,
                    };
                    let summary = response_summary(&value, first_line(rest));
                    let encoded = value.to_bytes();
                    let again = decode_response(&encoded, wire_expect, &self.config);
                    match round_trip(again, &encoded, false, |again| *again == value) {
                        Ok(()) => self.report.pass(Dir::Server, start, &summary)?,
                        Err(problem) => self.report.fail(Dir::Server, start, &excerpt(rest), &problem)?,
                    }
                    if expect == Expect::Message && reply == Reply::Ok {
                        self.body(what)?;
                    }
                    Ok(reply)
                }
                Ok(Decoded::Incomplete) => {
                    self.report.fail(
                        Dir::Server,
                        start,
                        &excerpt(rest),
                        &format_args!("the capture ends inside the response to {what}"),
                    )?;
                    self.s = server.len();
                    Ok(Reply::Missing)
                }
                Err(e) => {
                    let at = line_start(server, start, start + e.offset);
                    self.report.fail(
                        Dir::Server,
                        at,
                        &excerpt(&server[at..]),
                        &absolute(&e, start, false),
                    )?;
                    let plus_ok = rest.len() >= 3 && rest[..3].eq_ignore_ascii_case(b"+OK");
                    let continuation = expect == Expect::Sasl && rest.starts_with(b"+") && !plus_ok;
                    if expect.is_multi_line() && plus_ok {
                        // The +OK promised a multi-line block: skip all of it,
                        // or its lines would be taken for the next answers.
                        self.s = start + skip_line(rest).unwrap_or(rest.len());
                        self.skip_to_terminator();
                    } else {
                        self.s = start + resume(&e, rest);
                    }
                    Ok(Reply::Failed {
                        plus_ok,
                        continuation,
                    })
                }
            }
        }

        /// Unstuffs the body of RETR or TOP (`what`), stuffs it again,
        /// unstuffs that, and compares.
        fn body(&mut self, what: &str) -> io::Result<()> {
            let server = self.server;
            let start = self.s;
            let mut decoder = BodyDecoder::new();
            let mut body = Vec::new();
            let mut at = start;
            loop {
                match decoder.decode(&server[at..]) {
                    Decoded::Complete {
                        value: BodyChunk::Data(data),
                        consumed,
                    } if consumed > 0 => {
                        body.extend_from_slice(data);
                        at += consumed;
                    }
                    Decoded::Complete {
                        value: BodyChunk::End,
                        consumed,
                    } => {
                        at += consumed;
                        break;
                    }
                    Decoded::Complete { .. } | Decoded::Incomplete => {
                        self.report.fail(
                            Dir::Server,
                            start,
                            &excerpt(&server[start..]),
                            &format_args!(
                                "the capture ends inside the {what} body ({} bytes unstuffed so far, no \
                                 terminating \".\" line)",
                                body.len()
                            ),
                        )?;
                        self.s = server.len();
                        return Ok(());
                    }
                }
            }
            self.s = at;
            let mut restuffed = Vec::with_capacity(at - start);
            let mut stuffer = DotStuffer::new();
            stuffer.push(&body, &mut restuffed);
            stuffer.finish(&mut restuffed);
            let summary = format!("{what} body {} bytes", body.len());
            let problem = match unstuff(&restuffed) {
                Some(again) if again == body => return self.report.pass(Dir::Server, start, &summary),
                Some(again) => {
                    let (normalised, bare_lf) = crlf_normalised(&body);
                    if bare_lf > 0 && again == normalised {
                        // RFC 1939 bodies are CRLF lines; DotStuffer repairs
                        // bare LF on purpose.
                        let summary = format!("{summary} ({bare_lf} bare LF re-stuffed as CRLF)");
                        return self.report.pass(Dir::Server, start, &summary);
                    }
                    let differs = again.iter().zip(&body).position(|(a, b)| a != b);
                    let differs = differs.unwrap_or(again.len().min(body.len()));
                    format!(
                        "round trip: the re-stuffed body unstuffs to {} bytes instead of {}, first \
                         difference at body byte {differs}",
                        again.len(),
                        body.len()
                    )
                }
                None => format!(
                    "round trip: the re-stuffed body ({} bytes) does not unstuff to a complete body",
                    restuffed.len()
                ),
            };
            self.report
                .fail(Dir::Server, start, &excerpt(&server[start..]), &problem)
        }

        /// Follows an AUTH exchange: challenges and client answers until the
        /// server's final status.
        fn sasl_exchange(&mut self) -> io::Result<()> {
            loop {
                let reply = self.reply(Expect::Sasl, "AUTH")?;
                if !matches!(
                    reply,
                    Reply::Continuation
                        | Reply::Failed {
                            continuation: true,
                            ..
                        }
                ) {
                    return Ok(());
                }
                let client = self.client;
                let start = self.c;
                if start >= client.len() {
                    return self.report.note(&format_args!(
                        "no answer to the SASL challenge: the client capture ends at offset {start}"
                    ));
                }
                match decode_sasl_response(&client[start..], &self.config) {
                    Ok(Decoded::Complete { value, consumed }) => {
                        self.c += consumed;
                        let summary = match value {
                            SaslResponse::Cancel => "* (SASL cancel)",
                            SaslResponse::Data(_) => "SASL response <redacted>",
                        };
                        let mut encoded = Vec::new();
                        value.encode(&mut encoded);
                        let again = decode_sasl_response(&encoded, &self.config);
                        match round_trip(again, &encoded, true, |again| *again == value) {
                            Ok(()) => self.report.pass(Dir::Client, start, summary)?,
                            Err(problem) => self.report.fail(Dir::Client, start, "<redacted>", &problem)?,
                        }
                    }
                    Ok(Decoded::Incomplete) => {
                        self.report.fail(
                            Dir::Client,
                            start,
                            "<redacted>",
                            &"the capture ends inside a SASL response line",
                        )?;
                        self.c = client.len();
                        return Ok(());
                    }
                    Err(e) => {
                        self.report
                            .fail(Dir::Client, start, "<redacted>", &absolute(&e, start, true))?;
                        self.c = start + resume(&e, &client[start..]);
                    }
                }
            }
        }

        /// STLS was accepted: what follows on both sides is TLS.
        fn tls_started(&mut self) -> io::Result<()> {
            let (c, s) = (self.c, self.s);
            self.report.note(&format_args!(
                "STLS: TLS starts at C offset {c} and S offset {s}; the remaining {} client and {} server \
                 bytes are not decoded",
                self.client.len() - c,
                self.server.len() - s
            ))?;
            self.c = self.client.len();
            self.s = self.server.len();
            Ok(())
        }

        /// Reports server lines that answer no command, one failure a line.
        fn unsolicited(&mut self) -> io::Result<()> {
            let server = self.server;
            while self.s < server.len() {
                let start = self.s;
                let rest = &server[start..];
                self.report.fail(
                    Dir::Server,
                    start,
                    &excerpt(rest),
                    &"server data with no command pending in the client capture",
                )?;
                self.s += skip_line(rest).unwrap_or(rest.len());
            }
            Ok(())
        }

        /// Skips the lines of a multi-line response up to and including
        /// the terminating "." line.
        fn skip_to_terminator(&mut self) {
            let server = self.server;
            while self.s < server.len() {
                let rest = &server[self.s..];
                let Some(n) = skip_line(rest) else {
                    self.s = server.len();
                    return;
                };
                self.s += n;
                if first_line(rest) == b"." {
                    return;
                }
            }
        }
    }

    /// Compares a re-decoded value with the original: `again` must use all
    /// of `encoded` and be `same` as the original.
    fn round_trip<T>(
        again: Result<Decoded<T>, DecodeError>,
        encoded: &[u8],
        sensitive: bool,
        same: impl FnOnce(&T) -> bool,
    ) -> Result<(), String> {
        let shown = if sensitive {
            "<redacted>".to_owned()
        } else {
            format!("\"{}\"", escape(encoded, EXCERPT))
        };
        match again {
            Ok(Decoded::Complete { value, consumed }) if consumed == encoded.len() => {
                if same(&value) {
                    Ok(())
                } else {
                    Err(format!(
                        "round trip: re-encoded as {shown}, which decodes to a different value"
                    ))
                }
            }
            Ok(Decoded::Complete { consumed, .. }) => Err(format!(
                "round trip: re-encoded as {shown}, which decodes using {consumed} of its {} bytes",
                encoded.len()
            )),
            Ok(Decoded::Incomplete) => Err(format!(
                "round trip: re-encoded as {shown}, which decodes as incomplete"
            )),
            Err(e) => Err(format!(
                "round trip: re-encoded as {shown}, which does not decode: {}",
                absolute(&e, 0, sensitive)
            )),
        }
    }

    /// The error with its offset in the whole file rather than in the
    /// message that starts at `base`; without the offending byte if the
    /// line carries credentials.
    fn absolute(e: &DecodeError, base: usize, sensitive: bool) -> DecodeError {
        let mut e = e.clone();
        e.offset += base;
        e.resume_at = e.resume_at.map(|r| r + base);
        if sensitive {
            e.found = None;
        }
        e
    }

    /// How many bytes to skip after an error in `rest`: to the next line,
    /// and at least one so that decoding moves on.
    fn resume(e: &DecodeError, rest: &[u8]) -> usize {
        e.resume_at
            .or_else(|| skip_line(rest))
            .unwrap_or(rest.len())
            .clamp(1, rest.len().max(1))
    }

    /// The start of the line that holds `offset`, not before `floor`.
    fn line_start(data: &[u8], floor: usize, offset: usize) -> usize {
        let offset = offset.min(data.len());
        match data[floor..offset].iter().rposition(|&b| b == b'\n') {
            Some(lf) => floor + lf + 1,
            None => floor,
        }
    }

    /// The excerpt of a client line, with credentials replaced.
    fn client_excerpt(rest: &[u8]) -> String {
        redacted(first_line(rest)).unwrap_or_else(|| excerpt(rest))
    }

    /// A printable stand-in for a client line that may carry credentials
    /// (PASS, APOP, AUTH, or what looks like SASL base64), `None` for any
    /// other line.
    fn redacted(line: &[u8]) -> Option<String> {
        let keyword = line.split(|&b| b == b' ').next().unwrap_or_default();
        for sensitive in ["PASS", "APOP", "AUTH"] {
            if keyword.eq_ignore_ascii_case(sensitive.as_bytes()) {
                return Some(format!("{sensitive} <redacted>"));
            }
        }
        let base64 = line.len() >= 8
            && line.len() % 4 == 0
            && line
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
        base64.then(|| "<redacted>".to_owned())
    }

    /// The answer form a command that did not decode probably gets, from
    /// its keyword and whether it has arguments.
    fn guess_expect(line: &[u8]) -> Expect {
        let mut words = line.split(|&b| b == b' ').filter(|w| !w.is_empty());
        let keyword = words.next().unwrap_or_default().to_ascii_uppercase();
        let bare = words.next().is_none();
        match (&keyword[..], bare) {
            (b"AUTH", _) => Expect::Sasl,
            (b"RETR" | b"TOP", _) => Expect::Message,
            (b"CAPA", _) => Expect::Capabilities,
            (b"LIST", true) => Expect::ScanListings,
            (b"UIDL", true) => Expect::UniqueIdListings,
            (b"LANG", true) => Expect::Languages,
            _ => Expect::Status,
        }
    }

    /// The first line as sent, and the size of a multi-line answer.
    fn response_summary(response: &Response<'_>, line: &[u8]) -> String {
        let head = escape(line, SUMMARY);
        match response {
            Response::Continuation(data) => format!("+ <challenge, {} base64 chars>", data.as_str().len()),
            Response::ScanListings { listings, .. } => format!("{head} [{} scan listings]", listings.len()),
            Response::UniqueIdListings { listings, .. } => {
                format!("{head} [{} unique-id listings]", listings.len())
            }
            Response::Capabilities { capabilities, .. } => {
                format!("{head} [{} capabilities]", capabilities.len())
            }
            Response::Languages { languages, .. } => format!("{head} [{} languages]", languages.len()),
            _ => head,
        }
    }

    /// Unstuffs a complete body, terminator included; `None` if it is not
    /// complete or has bytes after the terminator.
    fn unstuff(wire: &[u8]) -> Option<Vec<u8>> {
        mailwire::pop3::unstuff(wire).and_then(|(body, used)| (used == wire.len()).then_some(body))
    }

    /// `body` with every LF that has no CR before it turned into CRLF, and
    /// how many there were.
    fn crlf_normalised(body: &[u8]) -> (Vec<u8>, usize) {
        let mut out = Vec::with_capacity(body.len() + 16);
        let mut bare = 0;
        let mut from = 0;
        while let Some(i) = memchr(b'\n', &body[from..]) {
            let lf = from + i;
            out.extend_from_slice(&body[from..lf]);
            if lf == 0 || body[lf - 1] != b'\r' {
                out.push(b'\r');
                bare += 1;
            }
            out.push(b'\n');
            from = lf + 1;
        }
        out.extend_from_slice(&body[from..]);
        (out, bare)
    }
}

//! A small IMAP client over a plain socket for the tests that compare
//! servers byte for byte: it sends commands as written and returns each
//! response whole (its lines and literals, `{n}\r\n` then n bytes), with no
//! interpretation beyond finding where a response ends.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// What a tagged command got: the untagged responses (each whole, CRLF
/// included, literals inline) and the completion.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The untagged responses (and continuation requests), in order.
    pub untagged: Vec<Vec<u8>>,
    /// `OK`, `NO` or `BAD`.
    pub status: String,
    /// The whole tagged line, without its CRLF.
    pub completion: String,
}

impl Reply {
    /// Panics with the exchange unless the command completed with OK.
    pub fn ok(self, what: &str) -> Reply {
        assert_eq!(self.status, "OK", "{what}: {}\n{}", self.completion, self.text());
        self
    }

    /// The untagged responses as text (lossy), for messages and matching.
    pub fn text(&self) -> String {
        self.untagged
            .iter()
            .map(|r| String::from_utf8_lossy(r).into_owned())
            .collect()
    }

    /// The untagged responses that start with `* <prefix>` (ASCII,
    /// case-insensitive), as text.
    pub fn lines_starting(&self, prefix: &str) -> Vec<String> {
        let prefix = format!("* {prefix}");
        self.untagged
            .iter()
            .map(|r| String::from_utf8_lossy(r).into_owned())
            .filter(|r| r.len() >= prefix.len() && r[..prefix.len()].eq_ignore_ascii_case(&prefix))
            .collect()
    }

    /// The number in a response code `[<code> n]` of an untagged OK.
    pub fn code_number(&self, code: &str) -> Option<u64> {
        let needle = format!("[{code} ");
        self.untagged.iter().find_map(|r| {
            let r = String::from_utf8_lossy(r);
            let at = r.find(&needle)? + needle.len();
            let end = r[at..].find(']')? + at;
            r[at..end].trim().parse().ok()
        })
    }

    /// `n` of the untagged `* n <word>` (EXISTS, RECENT).
    pub fn count(&self, word: &str) -> Option<u64> {
        self.untagged.iter().find_map(|r| {
            let r = String::from_utf8_lossy(r);
            let mut parts = r.trim_end().split(' ');
            match (parts.next(), parts.next(), parts.next(), parts.next()) {
                (Some("*"), Some(n), Some(w), None) if w.eq_ignore_ascii_case(word) => n.parse().ok(),
                _ => None,
            }
        })
    }
}

/// The length of the first complete response in `buf`, if there is one:
/// lines up to CRLF (or a bare LF), where a line ending in `{n}` or `{n+}`
/// is followed by n bytes of literal and more of the same response.
pub fn complete_response(buf: &[u8]) -> Option<usize> {
    let mut at = 0;
    loop {
        let end = at + buf[at..].iter().position(|&b| b == b'\n')? + 1;
        let line = &buf[at..end];
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        match literal_length(line) {
            Some(n) => {
                if buf.len() < end + n {
                    return None;
                }
                at = end + n;
            }
            None => return Some(end),
        }
    }
}

/// The length a line announces with a trailing `{n}` / `{n+}` / `~{n}`.
fn literal_length(line: &[u8]) -> Option<usize> {
    let line = line.strip_suffix(b"}")?;
    let open = line.iter().rposition(|&b| b == b'{')?;
    let digits = &line[open + 1..];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// An IMAP connection.
pub struct Imap {
    stream: TcpStream,
    buf: Vec<u8>,
    next_tag: u32,
    /// Everything sent and received, for failure messages.
    pub transcript: Vec<u8>,
}

impl Imap {
    /// Connects and returns the client with the greeting.
    pub fn connect(addr: SocketAddr) -> (Imap, Vec<u8>) {
        let stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
        let mut imap = Imap {
            stream,
            buf: Vec::new(),
            next_tag: 1,
            transcript: Vec::new(),
        };
        let greeting = imap
            .response_within(Duration::from_secs(30))
            .expect("an IMAP greeting");
        (imap, greeting)
    }

    /// Connects and logs in; panics unless both work.
    pub fn login(addr: SocketAddr, user: &str, password: &str) -> Imap {
        let (mut imap, greeting) = Imap::connect(addr);
        assert!(
            greeting.starts_with(b"* OK"),
            "{}",
            String::from_utf8_lossy(&greeting)
        );
        imap.command(&format!("LOGIN {user} {password}")).ok("LOGIN");
        imap
    }

    /// The transcript as text.
    pub fn transcript(&self) -> String {
        String::from_utf8_lossy(&self.transcript).into_owned()
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.transcript.extend_from_slice(b"C: ");
        self.transcript.extend_from_slice(bytes);
        self.stream.write_all(bytes).expect("send to the IMAP server");
    }

    /// The next whole response, if one arrives within `timeout`; `None`
    /// on timeout. Panics when the connection closes.
    pub fn response_within(&mut self, timeout: Duration) -> Option<Vec<u8>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(n) = complete_response(&self.buf) {
                let response: Vec<u8> = self.buf.drain(..n).collect();
                self.transcript.extend_from_slice(b"S: ");
                self.transcript.extend_from_slice(&response);
                return Some(response);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            self.stream
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .expect("set a timeout");
            let mut chunk = [0u8; 64 * 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) => panic!(
                    "the IMAP server closed the connection; transcript:\n{}",
                    self.transcript()
                ),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock
                            | std::io::ErrorKind::TimedOut
                            | std::io::ErrorKind::Interrupted
                    ) => {}
                Err(e) => panic!("read from the IMAP server: {e}"),
            }
        }
    }

    pub fn response(&mut self) -> Vec<u8> {
        match self.response_within(Duration::from_secs(60)) {
            Some(r) => r,
            None => panic!("no IMAP response within 60 s; transcript:\n{}", self.transcript()),
        }
    }

    fn tag(&mut self) -> String {
        let tag = format!("T{}", self.next_tag);
        self.next_tag += 1;
        tag
    }

    /// Reads until the tagged completion of `tag`.
    fn until_tagged(&mut self, tag: &str) -> Reply {
        let mut untagged = Vec::new();
        let prefix = format!("{tag} ");
        loop {
            let response = self.response();
            if response.starts_with(prefix.as_bytes()) {
                let completion = String::from_utf8_lossy(&response).trim_end().to_owned();
                let status = completion[prefix.len()..]
                    .split(' ')
                    .next()
                    .unwrap_or("")
                    .to_ascii_uppercase();
                return Reply {
                    untagged,
                    status,
                    completion,
                };
            }
            untagged.push(response);
        }
    }

    /// Sends `<tag> <command>` and reads its responses.
    pub fn command(&mut self, command: &str) -> Reply {
        let tag = self.tag();
        self.send(format!("{tag} {command}\r\n").as_bytes());
        self.until_tagged(&tag)
    }

    /// Sends `<tag> <before> {n}`, waits for the continuation, then the
    /// literal and the end of the line (a synchronizing literal, which
    /// every server takes), and reads the responses.
    pub fn command_with_literal(&mut self, before: &str, literal: &[u8]) -> Reply {
        let tag = self.tag();
        self.send(format!("{tag} {before} {{{}}}\r\n", literal.len()).as_bytes());
        let mut untagged = Vec::new();
        loop {
            let response = self.response();
            if response.starts_with(b"+") {
                break;
            }
            if response.starts_with(format!("{tag} ").as_bytes()) {
                let completion = String::from_utf8_lossy(&response).trim_end().to_owned();
                return Reply {
                    untagged,
                    status: completion.split(' ').nth(1).unwrap_or("").to_ascii_uppercase(),
                    completion,
                };
            }
            untagged.push(response);
        }
        let mut rest = literal.to_vec();
        rest.extend_from_slice(b"\r\n");
        self.send(&rest);
        let mut reply = self.until_tagged(&tag);
        untagged.append(&mut reply.untagged);
        reply.untagged = untagged;
        reply
    }

    /// Sends `<tag> ` and `after_tag` as they are, then CRLF, and reads the
    /// responses: for commands with non-synchronizing literals (`{n+}`),
    /// raw 8-bit bytes or anything `command` cannot write.
    pub fn command_raw(&mut self, after_tag: &[u8]) -> Reply {
        let tag = self.tag();
        let mut bytes = format!("{tag} ").into_bytes();
        bytes.extend_from_slice(after_tag);
        bytes.extend_from_slice(b"\r\n");
        self.send(&bytes);
        self.until_tagged(&tag)
    }

    /// Starts IDLE and waits for the continuation request; returns the
    /// tag for [`Imap::idle_done`].
    pub fn idle(&mut self) -> String {
        let tag = self.tag();
        self.send(format!("{tag} IDLE\r\n").as_bytes());
        let response = self.response();
        assert!(
            response.starts_with(b"+"),
            "IDLE was not accepted; transcript:\n{}",
            self.transcript()
        );
        tag
    }

    /// Collects untagged responses during IDLE until one satisfies `want`
    /// or `timeout` passes; returns them all and whether `want` was met.
    pub fn idle_wait(&mut self, timeout: Duration, want: impl Fn(&str) -> bool) -> (Vec<String>, bool) {
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(response) = self.response_within(left) else {
                return (seen, false);
            };
            let text = String::from_utf8_lossy(&response).trim_end().to_owned();
            let met = want(&text);
            seen.push(text);
            if met {
                return (seen, true);
            }
        }
    }

    /// Ends IDLE with DONE and reads the completion.
    pub fn idle_done(&mut self, tag: &str) -> Reply {
        self.send(b"DONE\r\n");
        self.until_tagged(tag)
    }

    /// LOGOUT, reading the BYE and the completion.
    pub fn logout(mut self) {
        let _ = self.command("LOGOUT");
    }
}

#[test]
fn responses_are_framed_with_their_literals() {
    assert_eq!(complete_response(b"* OK hi\r\n* 1"), Some(9));
    assert_eq!(complete_response(b"* 1 FETCH (BODY[] {3}\r\nab"), None);
    let full = b"* 1 FETCH (BODY[] {3}\r\nabc X {0}\r\n)\r\nT1 OK\r\n";
    assert_eq!(complete_response(full), Some(full.len() - 7));
    assert_eq!(complete_response(b"* OK no literal {x}\r\n"), Some(21));
}

//! Reading the client's input: commands and their literals, the lines of
//! a SASL exchange and IDLE, and the recovery from input that breaks the
//! grammar or the limits.

use super::*;

impl ServerSession {
    pub(super) fn pending_input(&self) -> &[u8] {
        &self.input[self.start..]
    }

    pub(super) fn consume(&mut self, n: usize) {
        self.start += n;
        self.line_scanned = 0;
        if self.start >= self.input.len() {
            self.input.clear();
            self.start = 0;
        } else if self.start >= 64 * 1024 && self.start * 2 >= self.input.len() {
            self.input.drain(..self.start);
            self.start = 0;
        }
    }

    /// Whether a whole line, or one longer than the line limit, is
    /// pending (for SASL and IDLE lines, which carry no literals). What was
    /// searched at the last call is not searched again.
    pub(super) fn line_pending(&mut self) -> bool {
        let pending = &self.input[self.start..];
        let limit = self.config.decoder.limits.command_line;
        let window = pending.len().min(limit);
        let from = self.line_scanned.min(window);
        let found = memchr::memchr(b'\n', &pending[from..window]);
        #[cfg(test)]
        crate::frame::SCANNED.with(|s| s.set(s.get() + found.map_or(window - from, |i| i + 1)));
        if found.is_some() || pending.len() >= limit {
            return true;
        }
        self.line_scanned = window;
        false
    }

    /// Forgets the framing of the command that just ended.
    pub(super) fn end_command(&mut self) {
        self.reader.reset();
        self.literal_open = 0;
        self.append_tries = 0;
    }

    /// Reads the next command; false when it must wait.
    pub(super) fn next_command(&mut self) -> bool {
        self.needs_input = false;
        let outcome = self
            .reader
            .decode_announcing(&self.input[self.start..], self.literal_open);
        match outcome {
            Ok(Decoded::Complete { value, consumed }) => {
                let command = value.into_owned();
                self.consume(consumed);
                self.end_command();
                self.dispatch(command);
                true
            }
            Ok(Decoded::Incomplete) => {
                self.needs_input = true;
                false
            }
            Ok(Decoded::LiteralAnnounced(a)) => {
                if a.data_start <= self.literal_open {
                    self.needs_input = true;
                    return false;
                }
                if self.config.stream_append && self.state != State::NotAuthenticated && self.start_append(&a)
                {
                    return true;
                }
                let prefix = &self.input[self.start..self.start + a.data_start];
                let command = command_name(prefix);
                // The decoder's limits were raised for APPEND (see
                // `ServerSession::new`); every other command keeps the
                // configured ones, for each literal and for the whole, and
                // so does an APPEND held whole although the session streams
                // APPEND (one whose lines do not parse as the streaming
                // reader reads them: the decoder answers it). Before login
                // every command, APPEND included, has `login_command_limit`
                // in all.
                let limits = &self.config.decoder.limits;
                let whole = (a.data_start as u64).saturating_add(a.length);
                let too_big = if self.state == State::NotAuthenticated {
                    a.length > limits.literal
                        || whole > limits.command_message.min(self.config.login_command_limit)
                } else {
                    match self.config.append_limit {
                        Some(append) if command == Some("APPEND") && !self.config.stream_append => {
                            a.length > append
                        }
                        _ => a.length > limits.literal || whole > limits.command_message,
                    }
                };
                match a.mode {
                    LiteralMode::Sync if too_big => {
                        self.status(
                            a.tag.as_ref(),
                            Status::No,
                            Some(condition("TOOBIG")),
                            "Literal too large",
                        );
                        self.consume(a.data_start);
                        self.end_command();
                    }
                    LiteralMode::Sync => {
                        let serial = next_serial();
                        self.phase = Phase::Waiting {
                            serial,
                            on: Waiting::Literal {
                                data_start: a.data_start,
                                tag: a.tag.clone(),
                            },
                        };
                        self.events.push_back(ServerEvent::Literal(LiteralRequest {
                            serial,
                            tag: a.tag,
                            command,
                            length: a.length,
                            binary: a.binary,
                        }));
                        return false;
                    }
                    LiteralMode::NonSync => {
                        let refused = too_big
                            || match self.config.non_sync_literals {
                                NonSyncLiterals::Plus => false,
                                NonSyncLiterals::Minus => a.length > LITERAL_MINUS_MAX,
                                NonSyncLiterals::None => true,
                            };
                        if !refused {
                            // Read on: the data may be here already.
                            self.literal_open = a.data_start;
                            return true;
                        }
                        self.status(
                            a.tag.as_ref(),
                            Status::Bad,
                            Some(condition("TOOBIG")),
                            "Non-synchronizing literal too large",
                        );
                        self.consume(a.data_start);
                        self.end_command();
                        self.phase = Phase::DiscardLiteral { remaining: a.length };
                    }
                }
                true
            }
            Err(e) => {
                self.command_error(e);
                true
            }
        }
    }

    pub(super) fn command_error(&mut self, e: DecodeError) {
        self.end_command();
        let input = self.pending_input();
        // A literal too large (alone or for the message): its header ends
        // the line at the error.
        let too_large = matches!(
            e.kind,
            ErrorKind::LiteralTooLarge { .. } | ErrorKind::MessageTooLarge { .. }
        );
        let at = e.offset.min(input.len());
        if let Some(lf) = memchr::memchr(b'\n', &input[at..])
            .map(|i| at + i)
            .filter(|_| too_large)
        {
            let line_end = if lf > 0 && input[lf - 1] == b'\r' {
                lf - 1
            } else {
                lf
            };
            let line_start = memchr::memrchr(b'\n', &input[..line_end]).map_or(0, |i| i + 1);
            if let Some((length, mode, _)) = literal_header(&input[line_start..line_end]) {
                let text = "Literal too large";
                self.status(e.tag.as_ref(), Status::No, Some(condition("TOOBIG")), text);
                self.consume(lf + 1);
                if mode == LiteralMode::NonSync {
                    self.phase = Phase::DiscardLiteral { remaining: length };
                }
                return;
            }
        }
        let text = format!("Error in IMAP command: {e}");
        self.status(e.tag.as_ref(), Status::Bad, None, &text);
        match e.resume_at {
            Some(n) => self.consume(n),
            None => self.phase = Phase::SkipLine { tail: Vec::new() },
        }
    }

    pub(super) fn discard_literal(&mut self) -> bool {
        let Phase::DiscardLiteral { remaining } = &mut self.phase else {
            return false;
        };
        let available = self.input.len() - self.start;
        let n = (*remaining).min(available as u64) as usize;
        *remaining -= n as u64;
        let done = *remaining == 0;
        self.consume(n);
        if done {
            // The rest of the command line follows the literal.
            self.phase = Phase::SkipLine { tail: Vec::new() };
            true
        } else {
            self.needs_input = true;
            false
        }
    }

    pub(super) fn skip_line(&mut self) -> bool {
        let available = self.input.len() - self.start;
        let lf = memchr::memchr(b'\n', self.pending_input());
        let Phase::SkipLine { tail } = &mut self.phase else {
            return false;
        };
        let upto = lf.unwrap_or(available);
        // Only the end of the line matters: it may announce a literal.
        keep_tail(tail, &self.input[self.start..self.start + upto]);
        let Some(lf) = lf else {
            self.consume(available);
            self.needs_input = true;
            return false;
        };
        let line = tail.strip_suffix(b"\r").unwrap_or(tail);
        let literal = literal_header(line);
        self.consume(lf + 1);
        self.phase = match literal {
            Some((length, LiteralMode::NonSync, _)) => Phase::DiscardLiteral { remaining: length },
            _ => Phase::Commands,
        };
        true
    }

    pub(super) fn idle_line(&mut self) -> bool {
        if !self.line_pending() {
            self.needs_input = true;
            return false;
        }
        let outcome = crate::command::decode_idle_done(&self.input[self.start..], &self.config.decoder);
        let (consumed, ok) = match outcome {
            Ok(Decoded::Complete { consumed, .. }) => (Some(consumed), true),
            Ok(_) => {
                self.needs_input = true;
                return false;
            }
            Err(e) => (e.resume_at, false),
        };
        let Phase::Idle { tag } = std::mem::replace(&mut self.phase, Phase::Commands) else {
            return false;
        };
        self.clock.keepalive = None;
        if ok {
            self.tagged(&tag, Status::Ok, None, "IDLE terminated");
        } else {
            self.tagged(&tag, Status::Bad, None, "Expected DONE");
        }
        match consumed {
            Some(n) => self.consume(n),
            None => self.phase = Phase::SkipLine { tail: Vec::new() },
        }
        self.events.push_back(ServerEvent::IdleEnded);
        true
    }
}

/// What [`ServerSession::skip_line`] keeps of a line it skips: the end
/// that may announce a literal, its last 32 octets, with the zeros that
/// lead a literal's length dropped as they come (`{0…05+}` is `{5+}`, as
/// the framer reads it: `crate::frame::literal_length` takes any number of
/// leading zeros), so that a header of any length is still seen.
fn keep_tail(tail: &mut Vec<u8>, chunk: &[u8]) {
    use crate::frame::{Quote, quote_state};
    const KEPT: usize = 32;
    let header_only = |s: &[u8]| {
        s.iter()
            .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'}' | b'\r'))
    };
    // From the last `{` (and a `~` before it) when only a header can
    // follow it, else the last octets; all of the chunk when it goes on
    // with a header the tail holds (its length's zeros, say).
    let from = match memchr::memrchr(b'{', chunk) {
        Some(open) if header_only(&chunk[open + 1..]) => open.saturating_sub(1),
        None if header_only(chunk)
            && memchr::memrchr(b'{', tail).is_some_and(|open| header_only(&tail[open + 1..])) =>
        {
            0
        }
        _ => chunk.len().saturating_sub(KEPT),
    };
    if from > 0 {
        // What is dropped may open a quoted string the kept octets end
        // in (a `{` there is no literal header): its state stays, as a
        // mark in front of them.
        let state = quote_state(quote_state(Quote::Outside, tail), &chunk[..from]);
        tail.clear();
        state.mark(tail);
    }
    tail.extend_from_slice(&chunk[from..]);
    if let Some(open) = memchr::memrchr(b'{', tail) {
        let zeros = tail[open + 1..].iter().take_while(|&&b| b == b'0').count();
        // One zero stays when nothing but zeros has come yet: `{0}` is a
        // length too.
        let more_digits = tail.get(open + 1 + zeros).is_some_and(u8::is_ascii_digit);
        let drop = if more_digits {
            zeros
        } else {
            zeros.saturating_sub(1)
        };
        tail.drain(open + 1..open + 1 + drop);
    }
    if tail.len() > KEPT + 2 {
        let cut = tail.len() - KEPT;
        let state = quote_state(Quote::Outside, &tail[..cut]);
        let kept = tail.split_off(cut);
        tail.clear();
        state.mark(tail);
        tail.extend_from_slice(&kept);
    }
}

/// The name of the command a message starts with, upper case, when the
/// session knows it: for the literal requests.
pub(super) fn command_name(message: &[u8]) -> Option<&'static str> {
    const NAMES: &[&str] = &[
        "APPEND",
        "LOGIN",
        "AUTHENTICATE",
        "CREATE",
        "DELETE",
        "RENAME",
        "SELECT",
        "EXAMINE",
        "SUBSCRIBE",
        "UNSUBSCRIBE",
        "LIST",
        "LSUB",
        "STATUS",
        "SEARCH",
        "FETCH",
        "STORE",
        "COPY",
        "MOVE",
        "SORT",
        "THREAD",
        "REPLACE",
        "SETMETADATA",
        "GETMETADATA",
        "SETACL",
        "ID",
        "ESEARCH",
        "URLFETCH",
        "GENURLAUTH",
        "NOTIFY",
    ];
    let tag = peek_tag(message)?;
    let rest = &message[tag.as_str().len() + 1..];
    pub(super) fn word(s: &[u8]) -> (&[u8], &[u8]) {
        let n = s.iter().take_while(|b| b.is_ascii_alphabetic()).count();
        s.split_at(n)
    }
    let (mut name, rest) = word(rest);
    if name.eq_ignore_ascii_case(b"UID") {
        name = word(rest.strip_prefix(b" ")?).0;
    }
    NAMES
        .iter()
        .copied()
        .find(|n| n.as_bytes().eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use crate::frame::SCANNED;
    use crate::server::{ServerConfig, ServerEvent, ServerSession};

    /// Octets searched for LF while `line` arrives an octet at a time, then
    /// its CRLF.
    fn scanned_for(session: &mut ServerSession, line: usize) -> usize {
        while session.poll_transmit().is_some() {}
        SCANNED.with(|s| s.set(0));
        for _ in 0..line {
            session.receive(b"Q");
        }
        session.receive(b"\r\n");
        SCANNED.with(|s| s.get())
    }

    /// What the session answers to `a NOOP`, 70,000 octets and `end` on
    /// one line (too long: skipped), then `ABCDE` and `b NOOP`, read in
    /// pieces of `piece` octets.
    fn after_a_long_line(end: &[u8], piece: usize) -> String {
        let mut s = ServerSession::new(ServerConfig::default());
        while s.poll_transmit().is_some() {}
        let mut input = b"a NOOP ".to_vec();
        input.extend(std::iter::repeat_n(b'x', 70_000));
        input.extend_from_slice(end);
        input.extend_from_slice(b"\r\nABCDE\r\nb NOOP\r\n");
        for part in input.chunks(piece) {
            s.receive(part);
        }
        let mut out = Vec::new();
        while let Some(bytes) = s.poll_transmit() {
            out.extend_from_slice(&bytes);
        }
        String::from_utf8(out).unwrap()
    }

    /// A line skipped for its length ends in a non-synchronizing literal
    /// whose length has a hundred leading zeros: its data is skipped as it
    /// is after `{5+}`, not read as a command (the framer reads such a
    /// length since 2a78254f; the skipped line kept its last 32 octets).
    #[test]
    fn a_skipped_line_ending_in_a_long_literal_header_skips_the_literal() {
        let answer = after_a_long_line;
        let short = answer(b" {5+}", 70_000);
        assert!(
            short.ends_with("b OK NOOP completed\r\n") && !short.contains("ABCDE"),
            "{short}"
        );
        let zeros = [&b" {"[..], &[b'0'; 100], b"5+}"].concat();
        for piece in [1, 7, 64, 70_000] {
            assert_eq!(answer(&zeros, piece), short, "in pieces of {piece}");
        }
    }

    /// A skipped line with a quoted string long before its end: the
    /// literal header that ends it is one, and a `{5+}` inside a quoted
    /// string the line ends in is not, however the line was read (the
    /// kept end lost the quote's opening, found by fuzzing: the literal's
    /// data was read as a command in some reads only).
    #[test]
    fn a_skipped_line_keeps_its_quoted_strings_apart() {
        let answer = after_a_long_line;
        let quoted = [&b" \"a"[..], &[b'q'; 100], b"\\\"b\" {5+}"].concat();
        let skipped = answer(&quoted, 80_000);
        assert!(
            skipped.ends_with("b OK NOOP completed\r\n") && !skipped.contains("* BAD"),
            "{skipped}"
        );
        let inside = [&b" \"a"[..], &[b'q'; 100], b" {5+}"].concat();
        // Inside a quoted string `{5+}` is text: ABCDE is read as a
        // command (and refused).
        let read = answer(&inside, 80_000);
        assert!(
            read.contains("\r\n* BAD ") && read.ends_with("b OK NOOP completed\r\n"),
            "{read}"
        );
        for piece in [1, 7, 33, 64, 70_000] {
            assert_eq!(answer(&quoted, piece), skipped, "in pieces of {piece}");
            assert_eq!(answer(&inside, piece), read, "in pieces of {piece}");
        }
    }

    /// A SASL response or an IDLE line of 60,000 octets sent an octet at
    /// a time is searched for its end about once, not once per octet
    /// received (3.6 billion octets counted before the change).
    #[test]
    fn sasl_and_idle_lines_arriving_slowly_are_searched_once() {
        let config = ServerConfig {
            allow_plaintext_login: true,
            ..ServerConfig::default()
        };
        let mut s = ServerSession::new(config.clone());
        s.receive(b"a AUTHENTICATE PLAIN\r\n");
        let scanned = scanned_for(&mut s, 60_000);
        assert!(scanned < 3 * 60_000, "a SASL line: {scanned} octets searched");

        let mut s = ServerSession::new(config);
        s.receive(b"l LOGIN alice secret\r\n");
        let Some(ServerEvent::Authenticate(login)) = s.poll_event() else {
            panic!("no login")
        };
        s.accept_login(login).unwrap();
        s.receive(b"i IDLE\r\n");
        let scanned = scanned_for(&mut s, 60_000);
        assert!(scanned < 3 * 60_000, "an IDLE line: {scanned} octets searched");
        let mut out = Vec::new();
        while let Some(bytes) = s.poll_transmit() {
            out.extend_from_slice(&bytes);
        }
        assert!(String::from_utf8_lossy(&out).contains("i BAD Expected DONE"));
    }
}

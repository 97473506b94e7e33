//! APPEND streamed to the application: each message is announced before
//! its data is read (so the application can refuse it, and the session
//! sends `+` only for a message it accepted), then its data arrives in
//! chunks as [`ServerEvent::AppendData`], never held whole, with its own
//! size limit (APPENDLIMIT, RFC 7889). MULTIAPPEND (RFC 3502) is several
//! messages in one command: all or none, so a failure after the first
//! message is reported as [`ServerEvent::AppendAborted`] and the
//! application drops what it wrote.
//!
//! ```text
//! append         = "APPEND" SP mailbox 1*append-message
//! append-message = append-opts SP append-data
//! append-opts    = [SP flag-list] [SP date-time]
//! append-data    = literal / literal8 / append-data-ext
//! ```
//!
//! The UTF8 form (RFC 6855, `UTF8 (~{n}...)`), which clients use for
//! every message with UTF-8 header fields, streams as the plain one does
//! once UTF8=ACCEPT is enabled ([`AppendRequest::is_utf8`]); CATENATE
//! (RFC 4469) is not streamed: it comes whole in a
//! [`ServerEvent::Command`], within the decoder's limits.

use bytes::Bytes;

use super::{AnswerError, Effect, Phase, ServerEvent, ServerSession, Waiting, condition, next_serial};
use crate::datetime::DateTime;
use crate::decode::{LiteralAnnouncement, LiteralMode};
use crate::flag::{Flag, parse_flag_list};
use crate::mailbox::Mailbox;
use crate::response::{RespText, Response, Status};
use crate::string::{Tag, peek_tag};

/// A message of an APPEND, announced before its data.
#[must_use = "the session waits for an answer"]
pub struct AppendRequest {
    pub(super) serial: u64,
    pub(super) tag: Tag<'static>,
    pub(super) mailbox: Mailbox<'static>,
    pub(super) flags: Option<Vec<Flag<'static>>>,
    pub(super) date: Option<DateTime>,
    pub(super) length: u64,
    pub(super) binary: bool,
    pub(super) utf8: bool,
    pub(super) index: usize,
}

impl AppendRequest {
    /// The tag of the APPEND.
    pub fn tag(&self) -> &Tag<'static> {
        &self.tag
    }

    /// The destination mailbox.
    pub fn mailbox(&self) -> &Mailbox<'static> {
        &self.mailbox
    }

    /// The flags to set, when the client sent a flag list.
    pub fn flags(&self) -> Option<&[Flag<'static>]> {
        self.flags.as_deref()
    }

    /// The INTERNALDATE to set, when the client sent one.
    pub fn date(&self) -> Option<&DateTime> {
        self.date.as_ref()
    }

    /// The message size in octets.
    pub fn length(&self) -> u64 {
        self.length
    }

    /// Sent as a `literal8` (BINARY, RFC 3516): it may hold NUL.
    pub fn is_binary(&self) -> bool {
        self.binary
    }

    /// 0 for the first message of the command, 1 for the next
    /// (MULTIAPPEND)...
    pub fn index(&self) -> usize {
        self.index
    }

    /// Whether the message came in the UTF8 form (`UTF8 (~{n}...)`, RFC
    /// 6855 section 4): its header fields may hold UTF-8. The session
    /// streams that form only once UTF8=ACCEPT is enabled.
    pub fn is_utf8(&self) -> bool {
        self.utf8
    }
}

impl std::fmt::Debug for AppendRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppendRequest")
            .field("tag", &self.tag)
            .field("mailbox", &self.mailbox)
            .field("flags", &self.flags)
            .field("date", &self.date)
            .field("length", &self.length)
            .field("binary", &self.binary)
            .field("utf8", &self.utf8)
            .field("index", &self.index)
            .finish()
    }
}

/// An APPEND whose messages have all arrived: the application commits
/// them (all of them, for MULTIAPPEND) and completes the command, with
/// `APPENDUID` when it can.
#[must_use = "the session waits for the command's completion"]
pub struct AppendCompletion {
    pub(super) serial: u64,
    pub(super) tag: Tag<'static>,
    pub(super) mailbox: Mailbox<'static>,
    pub(super) count: usize,
}

impl AppendCompletion {
    /// The tag of the APPEND.
    pub fn tag(&self) -> &Tag<'static> {
        &self.tag
    }

    /// The destination mailbox.
    pub fn mailbox(&self) -> &Mailbox<'static> {
        &self.mailbox
    }

    /// How many messages arrived.
    pub fn count(&self) -> usize {
        self.count
    }
}

impl std::fmt::Debug for AppendCompletion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppendCompletion")
            .field("tag", &self.tag)
            .field("mailbox", &self.mailbox)
            .field("count", &self.count)
            .finish()
    }
}

/// Where a streamed APPEND stands.
#[derive(Debug)]
pub(super) struct AppendStream {
    tag: Tag<'static>,
    mailbox: Mailbox<'static>,
    /// Messages announced so far.
    count: usize,
    stage: Stage,
    /// The message being read came in the UTF8 form: a `)` follows it.
    utf8: bool,
}

#[derive(Debug)]
enum Stage {
    /// The application decides about a message.
    Asking { mode: LiteralMode, length: u64 },
    /// Its data is arriving.
    Data { remaining: u64 },
    /// After the data of a message in the UTF8 form: its `)`.
    Close,
    /// After a message's data: the end of the command or the next
    /// message's options and literal.
    Between,
}

impl ServerSession {
    /// Starts streaming when `a` is the first message literal of an
    /// APPEND whose head parses; false leaves the command to the
    /// ordinary path.
    pub(super) fn start_append(&mut self, a: &LiteralAnnouncement) -> bool {
        let prefix = &self.input[self.start..self.start + a.data_start];
        let Some(header) = literal_header_start(prefix) else {
            return false;
        };
        let Some((tag, mailbox, (flags, date, utf8))) = append_head(&prefix[..header], &self.config.decoder)
        else {
            return false;
        };
        if utf8 && !(a.binary && self.utf8_names()) {
            return false;
        }
        self.consume(a.data_start);
        self.end_command();
        let stream = AppendStream {
            tag,
            mailbox,
            count: 0,
            stage: Stage::Between,
            utf8: false,
        };
        self.phase = Phase::Append(Box::new(stream));
        self.announce_message(flags, date, a.length, a.mode, a.binary, utf8);
        true
    }

    /// Asks the application about the next message, or refuses it.
    fn announce_message(
        &mut self,
        flags: Option<Vec<Flag<'static>>>,
        date: Option<DateTime>,
        length: u64,
        mode: LiteralMode,
        binary: bool,
        utf8: bool,
    ) {
        let Phase::Append(stream) = &mut self.phase else {
            return;
        };
        let index = stream.count;
        stream.count += 1;
        stream.utf8 = utf8;
        let limit = self
            .config
            .append_limit
            .unwrap_or(self.config.decoder.limits.literal);
        if length > limit || index >= self.config.decoder.limits.list {
            return self.abort_append(Some((mode, length)), Status::No, "TOOBIG", "Message too large");
        }
        stream.stage = Stage::Asking { mode, length };
        let serial = next_serial();
        let request = AppendRequest {
            serial,
            tag: stream.tag.clone(),
            mailbox: stream.mailbox.clone(),
            flags,
            date,
            length,
            binary,
            utf8,
            index,
        };
        self.append_waiting = Some(serial);
        self.events.push_back(ServerEvent::Append(request));
    }

    /// Accepts a message: the session asks for its data (a synchronizing
    /// literal) and passes it on as [`ServerEvent::AppendData`].
    pub fn accept_append(&mut self, request: AppendRequest) -> Result<(), AnswerError> {
        self.take_append(request.serial)?;
        let Phase::Append(stream) = &mut self.phase else {
            return Err(AnswerError::NotPending);
        };
        let Stage::Asking { mode, length } = stream.stage else {
            return Err(AnswerError::NotPending);
        };
        stream.stage = Stage::Data { remaining: length };
        if mode == LiteralMode::Sync {
            self.write(&Response::Continue(RespText::text("Ready for literal data")));
        }
        if length == 0 {
            self.events.push_back(ServerEvent::AppendMessageEnd);
            if let Phase::Append(stream) = &mut self.phase {
                stream.stage = if stream.utf8 { Stage::Close } else { Stage::Between };
            }
        }
        self.advance();
        Ok(())
    }

    /// Refuses a message: the APPEND fails (`NO [TOOBIG]`, `NO
    /// [OVERQUOTA]`, `BAD`, or `NO [TRYCREATE]` through
    /// [`LiteralRefusal::Bad`](super::LiteralRefusal) text of your own),
    /// its data is never read, and messages before it are dropped.
    pub fn refuse_append(
        &mut self,
        request: AppendRequest,
        why: super::LiteralRefusal,
    ) -> Result<(), AnswerError> {
        self.take_append(request.serial)?;
        let Phase::Append(stream) = &self.phase else {
            return Err(AnswerError::NotPending);
        };
        let Stage::Asking { mode, length } = stream.stage else {
            return Err(AnswerError::NotPending);
        };
        let (status, code, text) = match &why {
            super::LiteralRefusal::TooBig(t) => (Status::No, "TOOBIG", t.clone()),
            super::LiteralRefusal::OverQuota(t) => (Status::No, "OVERQUOTA", t.clone()),
            super::LiteralRefusal::TryCreate(t) => (Status::No, "TRYCREATE", t.clone()),
            super::LiteralRefusal::Unavailable(t) => (Status::No, "UNAVAILABLE", t.clone()),
            super::LiteralRefusal::Bad(t) => (Status::Bad, "", t.clone()),
        };
        self.abort_append(Some((mode, length)), status, code, &text);
        self.advance();
        Ok(())
    }

    /// Completes a streamed APPEND.
    pub fn complete_append(
        &mut self,
        completion: AppendCompletion,
        status: Status,
        text: RespText<'_>,
    ) -> Result<(), AnswerError> {
        if !matches!(status, Status::Ok | Status::No | Status::Bad) {
            return Err(AnswerError::NotAllowed);
        }
        self.check_command(completion.serial)?;
        self.announce(true);
        self.write(&Response::Status {
            tag: Some(completion.tag),
            status,
            text,
        });
        self.phase = Phase::Commands;
        self.advance();
        Ok(())
    }

    fn take_append(&mut self, serial: u64) -> Result<(), AnswerError> {
        if self.append_waiting != Some(serial) {
            return Err(AnswerError::NotPending);
        }
        self.append_waiting = None;
        Ok(())
    }

    /// Ends a streamed APPEND that failed: the tagged answer, an abort
    /// event once messages were accepted, and the client's bytes for it
    /// skipped (the data of a non-synchronizing literal is on its way).
    fn abort_append(&mut self, literal: Option<(LiteralMode, u64)>, status: Status, code: &str, text: &str) {
        let Phase::Append(stream) = std::mem::replace(&mut self.phase, Phase::Commands) else {
            return;
        };
        self.append_waiting = None;
        let code = (!code.is_empty()).then(|| condition_named(code));
        self.status(Some(&stream.tag), status, code, text);
        if stream.count > 1 || !matches!(stream.stage, Stage::Asking { .. }) {
            self.events.push_back(ServerEvent::AppendAborted);
        }
        self.phase = match literal {
            Some((LiteralMode::NonSync, length)) => Phase::DiscardLiteral { remaining: length },
            _ => Phase::Commands,
        };
    }

    /// Moves a streamed APPEND forward; false when it must wait.
    pub(super) fn append_step(&mut self) -> bool {
        let Phase::Append(stream) = &mut self.phase else {
            return false;
        };
        match stream.stage {
            Stage::Asking { .. } => false,
            Stage::Data { remaining } => {
                if self.append_buffered >= self.config.max_buffered_input {
                    return false;
                }
                let available = self.input.len() - self.start;
                let room = self.config.max_buffered_input - self.append_buffered;
                let n = (remaining.min(available as u64) as usize).min(room.max(1));
                if n == 0 {
                    self.needs_input = true;
                    return false;
                }
                let data = Bytes::copy_from_slice(&self.input[self.start..self.start + n]);
                self.consume(n);
                self.append_buffered += n;
                self.events.push_back(ServerEvent::AppendData(data));
                let Phase::Append(stream) = &mut self.phase else {
                    return false;
                };
                let left = remaining - n as u64;
                stream.stage = if left == 0 {
                    self.events.push_back(ServerEvent::AppendMessageEnd);
                    if stream.utf8 { Stage::Close } else { Stage::Between }
                } else {
                    Stage::Data { remaining: left }
                };
                true
            }
            Stage::Close => match self.pending_input().first() {
                None => {
                    self.needs_input = true;
                    false
                }
                Some(b')') => {
                    self.consume(1);
                    if let Phase::Append(stream) = &mut self.phase {
                        stream.stage = Stage::Between;
                    }
                    true
                }
                Some(_) => {
                    self.abort_append(None, Status::Bad, "", "Expected ')' after a UTF8 message");
                    self.phase = Phase::SkipLine { tail: Vec::new() };
                    true
                }
            },
            Stage::Between => self.append_between(),
        }
    }

    /// After a message: CRLF ends the command, a space starts the next
    /// message (MULTIAPPEND).
    fn append_between(&mut self) -> bool {
        let input = &self.input[self.start..];
        let limit = self.config.decoder.limits.command_line;
        let Some(lf) = memchr::memchr(b'\n', &input[..input.len().min(limit)]) else {
            if input.len() >= limit {
                self.abort_append(None, Status::Bad, "", "Command line too long");
                self.phase = Phase::SkipLine { tail: Vec::new() };
                return true;
            }
            self.needs_input = true;
            return false;
        };
        let line_end = if lf > 0 && input[lf - 1] == b'\r' {
            lf - 1
        } else if self.config.decoder.leniency.bare_lf {
            lf
        } else {
            self.consume(lf + 1);
            self.abort_append(None, Status::Bad, "", "Expected CRLF");
            return true;
        };
        let line = &input[..line_end];
        if line.is_empty() {
            self.consume(lf + 1);
            let Phase::Append(stream) = std::mem::replace(&mut self.phase, Phase::Commands) else {
                return false;
            };
            let serial = next_serial();
            self.phase = Phase::Waiting {
                serial,
                on: Waiting::Command {
                    effect: Effect::None,
                    by_sequence: false,
                },
            };
            self.events
                .push_back(ServerEvent::AppendComplete(AppendCompletion {
                    serial,
                    tag: stream.tag,
                    mailbox: stream.mailbox,
                    count: stream.count,
                }));
            return true;
        }
        let header = crate::frame::literal_header(line);
        let utf8_names = self.utf8_names();
        let next = header.and_then(|(length, mode, binary)| {
            let header = literal_header_start(&input[..lf + 1])?;
            let (flags, date, utf8) = append_opts(&input[..header], &self.config.decoder)?;
            (!utf8 || (binary && utf8_names)).then_some((flags, date, length, mode, binary, utf8))
        });
        self.consume(lf + 1);
        match next {
            Some((flags, date, length, mode, binary, utf8)) => {
                self.announce_message(flags, date, length, mode, binary, utf8)
            }
            None => {
                // What follows a message is neither the end nor another
                // message this session streams (CATENATE, UTF8...).
                let literal = header.map(|(length, mode, _)| (mode, length));
                self.abort_append(
                    literal,
                    Status::Bad,
                    "",
                    "Expected another message or the end of APPEND",
                );
            }
        }
        true
    }

    /// The application took a chunk of APPEND data out of the queue.
    pub(super) fn append_data_taken(&mut self, len: usize) {
        self.append_buffered = self.append_buffered.saturating_sub(len);
    }

    pub(super) fn append_closed(&mut self) {
        if let Phase::Append(stream) = &self.phase {
            if stream.count > 0 {
                self.events.push_back(ServerEvent::AppendAborted);
            }
        }
    }
}

/// Where the literal header that ends `prefix` (`{n}`, `{n+}`, `~{n}`,
/// then CRLF) starts.
fn literal_header_start(prefix: &[u8]) -> Option<usize> {
    let line = prefix.strip_suffix(b"\n")?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let open = memchr::memrchr(b'{', line)?;
    Some(if open > 0 && line[open - 1] == b'~' {
        open - 1
    } else {
        open
    })
}

/// `tag SP "APPEND" SP mailbox append-opts SP`, up to the first message
/// literal.
fn append_head(
    head: &[u8],
    config: &crate::decode::DecoderConfig,
) -> Option<(Tag<'static>, Mailbox<'static>, Options)> {
    let tag = peek_tag(head)?;
    let rest = &head[tag.as_str().len() + 1..];
    let name = rest.get(..6)?;
    if !name.eq_ignore_ascii_case(b"APPEND") {
        return None;
    }
    let rest = rest[6..].strip_prefix(b" ")?;
    let (rest, mailbox) = Mailbox::parse(rest, &config.leniency).ok()?;
    let options = append_opts(rest, config)?;
    Some((tag, mailbox.into_owned(), options))
}

/// A message's flag list and date, when sent, and whether it comes in the
/// UTF8 form.
type Options = (Option<Vec<Flag<'static>>>, Option<DateTime>, bool);

/// `append-opts SP` up to a message literal: `[SP flag-list] [SP
/// date-time] SP`, then `UTF8 (` for the UTF8 form, and nothing else.
fn append_opts(input: &[u8], config: &crate::decode::DecoderConfig) -> Option<Options> {
    let mut rest = input.strip_prefix(b" ")?;
    let mut flags = None;
    if rest.first() == Some(&b'(') {
        let (r, f) = parse_flag_list(rest, config.limits.list, config.leniency.extra_spaces, false).ok()?;
        flags = Some(f.into_iter().map(Flag::into_owned).collect());
        rest = r.strip_prefix(b" ")?;
    }
    let mut date = None;
    if rest.first() == Some(&b'"') {
        let (r, d) = DateTime::parse(rest, false).ok()?;
        date = Some(d);
        rest = r.strip_prefix(b" ")?;
    }
    if rest.is_empty() {
        return Some((flags, date, false));
    }
    rest.eq_ignore_ascii_case(b"UTF8 (")
        .then_some((flags, date, true))
}

fn condition_named(name: &str) -> crate::response::Code<'static> {
    match name {
        "TOOBIG" => condition("TOOBIG"),
        "OVERQUOTA" => condition("OVERQUOTA"),
        "TRYCREATE" => crate::response::Code::TryCreate,
        "UNAVAILABLE" => condition("UNAVAILABLE"),
        _ => condition("CANNOT"),
    }
}

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
//! ([`AppendRequest::is_utf8`]; before ENABLE UTF8=ACCEPT the application
//! must refuse a message with 8-bit header fields, RFC 6855 section 4).
//! So does CATENATE (RFC 4469): its message is announced
//! ([`AppendRequest::is_catenate`]), then each part as a
//! [`CatenatePart`], a URL for the application to copy from or the
//! literal of a TEXT part, whose data follows as for a plain message.
//!
//! ```text
//! append-data    =/ "CATENATE" SP "(" cat-part *(SP cat-part) ")"
//! cat-part       = text-literal / url / utf8-literal
//! text-literal   = "TEXT" SP literal
//! url            = "URL" SP astring
//! utf8-literal   = "UTF8" SP "(" literal8 ")"
//! ```
//!
//! The session reads the command a line at a time once its mailbox is
//! known: each line is parsed whole into the steps it holds (messages,
//! parts, the end), which are then taken one by one as the application
//! answers. A URL sent as a literal is taken up to the line limit. What
//! the reader takes agrees with the command decoded whole: a command it
//! does not take (a line it cannot read) goes to the decoder, whole.

use std::collections::VecDeque;

use bytes::Bytes;

use super::{
    AnswerError, Effect, LITERAL_MINUS_MAX, NonSyncLiterals, Phase, ServerEvent, ServerSession, Waiting,
    condition, next_serial,
};
use crate::datetime::DateTime;

use crate::decode::{DecoderConfig, LiteralAnnouncement, LiteralMode};
use crate::flag::{Flag, parse_flag_list};
use crate::imap_url::ImapUrl;
use crate::mailbox::Mailbox;
use crate::response::{Code, RespText, Response, Status};
use crate::string::{AString, Tag, peek_tag};

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
    pub(super) catenate: bool,
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

    /// The message size in octets; 0 for a CATENATE message, whose size
    /// is known only once its parts are put together.
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
    /// 6855 section 4): its header fields may hold UTF-8. Before ENABLE
    /// UTF8=ACCEPT, RFC 6855 has the server refuse an APPEND whose header
    /// fields hold 8-bit octets, in any form: the application sees them in
    /// the data, and answers NO in
    /// [`ServerSession::complete_append`].
    pub fn is_utf8(&self) -> bool {
        self.utf8
    }

    /// Whether the message is a CATENATE list (RFC 4469): once accepted,
    /// its parts follow as [`ServerEvent::CatenatePart`], in order, then
    /// [`ServerEvent::AppendMessageEnd`].
    pub fn is_catenate(&self) -> bool {
        self.catenate
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
            .field("catenate", &self.catenate)
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

/// A part of an accepted CATENATE message (RFC 4469), announced before
/// anything of it is read: a URL, whose content the application appends
/// to the message before it answers, or a TEXT (or UTF8) literal, whose
/// data follows as [`ServerEvent::AppendData`] once accepted.
#[must_use = "the session waits for an answer"]
pub struct CatenatePart {
    pub(super) serial: u64,
    pub(super) tag: Tag<'static>,
    pub(super) index: usize,
    pub(super) kind: PartKind,
}

#[derive(Debug)]
pub(super) enum PartKind {
    Url(ImapUrl<'static>),
    Text { length: u64, binary: bool, utf8: bool },
}

impl CatenatePart {
    /// The tag of the APPEND.
    pub fn tag(&self) -> &Tag<'static> {
        &self.tag
    }

    /// 0 for the first part of the message, 1 for the next...
    pub fn index(&self) -> usize {
        self.index
    }

    /// The URL of a `URL` part: the message, or part of it, to append.
    pub fn url(&self) -> Option<&ImapUrl<'static>> {
        match &self.kind {
            PartKind::Url(url) => Some(url),
            PartKind::Text { .. } => None,
        }
    }

    /// The length of a `TEXT` or `UTF8` part's literal.
    pub fn text_length(&self) -> Option<u64> {
        match self.kind {
            PartKind::Text { length, .. } => Some(length),
            PartKind::Url(_) => None,
        }
    }

    /// A text part sent as a `literal8` (BINARY, RFC 3516): it may hold
    /// NUL.
    pub fn is_binary(&self) -> bool {
        matches!(self.kind, PartKind::Text { binary: true, .. })
    }

    /// A text part in the UTF8 form (`UTF8 (~{n}...)`, RFC 6855 section
    /// 4).
    pub fn is_utf8(&self) -> bool {
        matches!(self.kind, PartKind::Text { utf8: true, .. })
    }
}

impl std::fmt::Debug for CatenatePart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CatenatePart")
            .field("tag", &self.tag)
            .field("index", &self.index)
            .field("kind", &self.kind)
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
    /// Parts of the CATENATE message being read announced so far.
    parts: usize,
    /// A message or a part was accepted: the application holds something
    /// of this APPEND.
    accepted: bool,
    stage: Stage,
    /// What the line read last holds and is not done yet.
    steps: VecDeque<Step>,
    /// Where the next line starts in the grammar.
    context: Context,
    /// What follows the data being read.
    after: After,
    /// The data being read is a literal8's: it may hold NUL.
    binary: bool,
    /// The data of a literal was read and the rest of its line was not:
    /// a failure then skips that rest.
    mid_line: bool,
}

#[derive(Debug)]
enum Stage {
    /// The application decides about a message or a part; the literal
    /// that would follow (not read yet), if any.
    Asking {
        literal: Option<(LiteralMode, u64)>,
        binary: bool,
    },
    /// Literal data is arriving: a message's or a TEXT part's.
    Data { remaining: u64 },
    /// After the data of a message or part in the UTF8 form: its `)`.
    Close,
    /// A URL sent as a literal: its data, the URL, is awaited whole.
    UrlData { length: u64 },
    /// The next step of the line read last, or the next line.
    Next,
}

/// What the data being read belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum After {
    Message,
    Utf8Message,
    Part,
    Utf8Part,
}

/// Where a line starts in the APPEND grammar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Context {
    /// After the mailbox or a message: CRLF, or SP and the next message.
    Between,
    /// Inside a CATENATE list, before its first part or after one.
    List { first: bool },
}

/// One step of an APPEND, as its lines hold them.
#[derive(Debug)]
enum Step {
    /// The next message: its options, then its data.
    Message {
        flags: Option<Vec<Flag<'static>>>,
        date: Option<DateTime>,
        data: MessageData,
    },
    /// A CATENATE part that is a URL.
    Url(ImapUrl<'static>),
    /// A URL sent as a literal.
    UrlLiteral { mode: LiteralMode, length: u64 },
    /// A TEXT or UTF8 part: a literal.
    Text {
        mode: LiteralMode,
        length: u64,
        binary: bool,
        utf8: bool,
    },
    /// `)`: the end of a CATENATE list, and of its message.
    EndList,
    /// The line end after the last message: the end of the command.
    End,
}

#[derive(Debug)]
enum MessageData {
    Literal {
        mode: LiteralMode,
        length: u64,
        binary: bool,
        utf8: bool,
    },
    Catenate,
}

impl Step {
    /// The literal that follows the step's line, if any.
    fn literal(&self) -> Option<(LiteralMode, u64)> {
        match *self {
            Step::Message {
                data: MessageData::Literal { mode, length, .. },
                ..
            }
            | Step::UrlLiteral { mode, length }
            | Step::Text { mode, length, .. } => Some((mode, length)),
            _ => None,
        }
    }
}

#[cfg(test)]
thread_local! {
    /// Times [`ServerSession::start_append`] read a command's head.
    static HEADS_READ: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The answer to a non-synchronizing literal the configuration refuses.
const NON_SYNC_TOO_LARGE: &str = "Non-synchronizing literal too large";

impl ServerSession {
    /// Starts streaming when `a` is the first literal of an APPEND whose
    /// head and current line parse; false leaves the command to the
    /// ordinary path.
    pub(super) fn start_append(&mut self, a: &LiteralAnnouncement) -> bool {
        // The first literal of an APPEND is its mailbox's or ends the line
        // its mailbox is on: two tries decide, so a command of many
        // literals is not read again at each.
        if self.append_tries >= 2 {
            return false;
        }
        self.append_tries += 1;
        #[cfg(test)]
        HEADS_READ.with(|n| n.set(n.get() + 1));
        let prefix = &self.input[self.start..self.start + a.data_start];
        let Some((tag, mailbox, head)) = append_head(prefix, &self.config.decoder) else {
            return false;
        };
        let rest = &prefix[head..];
        if rest.is_empty() {
            // The mailbox took the whole prefix: not decided yet.
            return false;
        }
        // One line: the literal announced ends the line the mailbox is on.
        if memchr::memchr(b'\n', rest) != Some(rest.len() - 1) {
            self.append_tries = 2;
            return false;
        }
        let Some(line) = line_body(rest, self.config.decoder.leniency.bare_lf) else {
            self.append_tries = 2;
            return false;
        };
        let Ok((steps, context)) = parse_line(line, Context::Between, &self.config.decoder) else {
            self.append_tries = 2;
            return false;
        };
        self.consume(a.data_start);
        self.end_command();
        let stream = AppendStream {
            tag,
            mailbox,
            count: 0,
            parts: 0,
            accepted: false,
            stage: Stage::Next,
            steps,
            context,
            after: After::Message,
            binary: false,
            mid_line: false,
        };
        self.phase = Phase::Append(Box::new(stream));
        true
    }

    /// Asks the application about the next message, or refuses it.
    fn announce_message(
        &mut self,
        flags: Option<Vec<Flag<'static>>>,
        date: Option<DateTime>,
        data: MessageData,
    ) {
        let Phase::Append(stream) = &mut self.phase else {
            return;
        };
        let index = stream.count;
        stream.count += 1;
        stream.parts = 0;
        let (literal, binary, utf8) = match data {
            MessageData::Literal {
                mode,
                length,
                binary,
                utf8,
            } => {
                stream.after = if utf8 { After::Utf8Message } else { After::Message };
                (Some((mode, length)), binary, utf8)
            }
            MessageData::Catenate => (None, false, false),
        };
        if index >= self.config.decoder.limits.list {
            return self.abort_append(literal, Status::No, "TOOBIG", "Message too large");
        }
        let mailbox = stream.mailbox.clone();
        let Some((serial, tag)) = self.ask(literal, binary) else {
            return;
        };
        let request = AppendRequest {
            serial,
            tag,
            mailbox,
            flags,
            date,
            length: literal.map_or(0, |(_, length)| length),
            binary,
            utf8,
            catenate: literal.is_none(),
            index,
        };
        self.events.push_back(ServerEvent::Append(request));
    }

    /// Checks the literal of a message or a part against the APPENDLIMIT
    /// and the non-synchronizing literal policy, and waits for the
    /// application's answer: the serial and tag of its request, or `None`
    /// once the APPEND is refused.
    fn ask(&mut self, literal: Option<(LiteralMode, u64)>, binary: bool) -> Option<(u64, Tag<'static>)> {
        let limit = self
            .config
            .append_limit
            .unwrap_or(self.config.decoder.limits.literal);
        if literal.is_some_and(|(_, length)| length > limit) {
            self.abort_append(literal, Status::No, "TOOBIG", "Message too large");
            return None;
        }
        if self.non_sync_refused(literal) {
            self.abort_append(literal, Status::Bad, "TOOBIG", NON_SYNC_TOO_LARGE);
            return None;
        }
        let Phase::Append(stream) = &mut self.phase else {
            return None;
        };
        stream.stage = Stage::Asking { literal, binary };
        let serial = next_serial();
        self.append_waiting = Some(serial);
        Some((serial, stream.tag.clone()))
    }

    /// Asks the application about the next part of a CATENATE message, or
    /// refuses it.
    fn announce_part(&mut self, kind: PartKind, literal: Option<(LiteralMode, u64)>) {
        let Phase::Append(stream) = &mut self.phase else {
            return;
        };
        let index = stream.parts;
        stream.parts += 1;
        if index >= self.config.decoder.limits.list {
            return self.abort_append(literal, Status::Bad, "", "Too many CATENATE parts");
        }
        let mut binary = false;
        if let PartKind::Text { utf8, binary: b, .. } = kind {
            stream.after = if utf8 { After::Utf8Part } else { After::Part };
            binary = b;
        }
        let Some((serial, tag)) = self.ask(literal, binary) else {
            return;
        };
        let part = CatenatePart {
            serial,
            tag,
            index,
            kind,
        };
        self.events.push_back(ServerEvent::CatenatePart(part));
    }

    /// Accepts a message: the session asks for its data (a synchronizing
    /// literal) and passes it on as [`ServerEvent::AppendData`]; for a
    /// CATENATE message, its parts come next.
    pub fn accept_append(&mut self, request: AppendRequest) -> Result<(), AnswerError> {
        self.take_append(request.serial)?;
        self.accept_asked()
    }

    /// Accepts a CATENATE part: for a URL, the application has appended
    /// what it names and the session reads on; for a text part, the
    /// session asks for its data (a synchronizing literal) and passes it
    /// on as [`ServerEvent::AppendData`].
    pub fn accept_catenate_part(&mut self, part: CatenatePart) -> Result<(), AnswerError> {
        self.take_append(part.serial)?;
        self.accept_asked()
    }

    /// What accepting a message or a part does.
    fn accept_asked(&mut self) -> Result<(), AnswerError> {
        let Phase::Append(stream) = &mut self.phase else {
            return Err(AnswerError::NotPending);
        };
        let Stage::Asking { literal, binary } = stream.stage else {
            return Err(AnswerError::NotPending);
        };
        stream.accepted = true;
        match literal {
            None => stream.stage = Stage::Next,
            Some((mode, length)) => {
                stream.binary = binary;
                stream.stage = Stage::Data { remaining: length };
                if mode == LiteralMode::Sync {
                    self.write(&Response::Continue(RespText::text("Ready for literal data")));
                }
                if length == 0 {
                    self.data_done();
                }
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
        self.refuse_asked(why, None)
    }

    /// Refuses a CATENATE part, which fails the APPEND as
    /// [`ServerSession::refuse_append`] does; for a URL that cannot be
    /// read, [`LiteralRefusal::BadUrl`](super::LiteralRefusal::BadUrl)
    /// answers `NO [BADURL url]` (RFC 4469).
    pub fn refuse_catenate_part(
        &mut self,
        part: CatenatePart,
        why: super::LiteralRefusal,
    ) -> Result<(), AnswerError> {
        self.take_append(part.serial)?;
        let url = match part.kind {
            PartKind::Url(url) => Some(url),
            PartKind::Text { .. } => None,
        };
        self.refuse_asked(why, url)
    }

    fn refuse_asked(
        &mut self,
        why: super::LiteralRefusal,
        url: Option<ImapUrl<'static>>,
    ) -> Result<(), AnswerError> {
        let Phase::Append(stream) = &self.phase else {
            return Err(AnswerError::NotPending);
        };
        let Stage::Asking { literal, .. } = stream.stage else {
            return Err(AnswerError::NotPending);
        };
        let (status, code, text) = why.answer(url.as_ref().map(ImapUrl::as_str));
        self.abort_append_with(literal, status, code, text);
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

    /// Whether a non-synchronizing literal is one the configuration
    /// refuses (RFC 7888: LITERAL- takes 4096 octets at most), as for any
    /// command.
    fn non_sync_refused(&self, literal: Option<(LiteralMode, u64)>) -> bool {
        match literal {
            Some((LiteralMode::NonSync, length)) => match self.config.non_sync_literals {
                NonSyncLiterals::Plus => false,
                NonSyncLiterals::Minus => length > LITERAL_MINUS_MAX,
                NonSyncLiterals::None => true,
            },
            _ => false,
        }
    }

    fn take_append(&mut self, serial: u64) -> Result<(), AnswerError> {
        if self.append_waiting != Some(serial) {
            return Err(AnswerError::NotPending);
        }
        self.append_waiting = None;
        Ok(())
    }

    /// Ends a streamed APPEND that failed (see [`Self::abort_append_with`]).
    fn abort_append(
        &mut self,
        literal: Option<(LiteralMode, u64)>,
        status: Status,
        code: &'static str,
        text: &str,
    ) {
        let code = (!code.is_empty()).then(|| condition(code));
        self.abort_append_with(literal, status, code, text);
    }

    /// Ends a streamed APPEND that failed: the tagged answer, an abort
    /// event once messages were accepted, and the client's bytes for it
    /// skipped: the data of a non-synchronizing literal is on its way,
    /// `literal`'s or that of the literal that ends the line read last.
    fn abort_append_with(
        &mut self,
        literal: Option<(LiteralMode, u64)>,
        status: Status,
        code: Option<Code<'static>>,
        text: &str,
    ) {
        let Phase::Append(stream) = std::mem::replace(&mut self.phase, Phase::Commands) else {
            return;
        };
        self.append_waiting = None;
        self.status(Some(&stream.tag), status, code, text);
        if stream.accepted {
            self.events.push_back(ServerEvent::AppendAborted);
        }
        let literal = literal.or_else(|| stream.steps.back().and_then(Step::literal));
        self.phase = match literal {
            Some((LiteralMode::NonSync, length)) => Phase::DiscardLiteral { remaining: length },
            // The rest of the line after a literal's data is the
            // command's.
            _ if stream.mid_line => Phase::SkipLine { tail: Vec::new() },
            _ => Phase::Commands,
        };
    }

    /// The data of a message or a part has all arrived.
    fn data_done(&mut self) {
        let Phase::Append(stream) = &mut self.phase else {
            return;
        };
        stream.mid_line = true;
        if matches!(stream.after, After::Message | After::Utf8Message) {
            self.events.push_back(ServerEvent::AppendMessageEnd);
        }
        stream.stage = match stream.after {
            After::Message | After::Part => Stage::Next,
            After::Utf8Message | After::Utf8Part => Stage::Close,
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
                let chunk = &self.input[self.start..self.start + n];
                if let Some(nul) = memchr::memchr(0, chunk).filter(|_| !stream.binary) {
                    // As a command decoded whole: NUL only in a literal8.
                    // What came before it is handed out first, as it is
                    // when it arrives in an earlier read.
                    if nul > 0 {
                        self.events
                            .push_back(ServerEvent::AppendData(Bytes::copy_from_slice(&chunk[..nul])));
                        self.append_buffered += nul;
                    }
                    self.consume(n);
                    let left = remaining - n as u64;
                    self.abort_append(
                        None,
                        Status::Bad,
                        "",
                        "NUL in a literal (only a literal8 may hold it)",
                    );
                    self.phase = match left {
                        0 => Phase::SkipLine { tail: Vec::new() },
                        _ => Phase::DiscardLiteral { remaining: left },
                    };
                    return true;
                }
                let data = Bytes::copy_from_slice(chunk);
                self.consume(n);
                self.append_buffered += n;
                self.events.push_back(ServerEvent::AppendData(data));
                let left = remaining - n as u64;
                if left == 0 {
                    self.data_done();
                } else if let Phase::Append(stream) = &mut self.phase {
                    stream.stage = Stage::Data { remaining: left };
                }
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
                        stream.stage = Stage::Next;
                    }
                    true
                }
                Some(_) => {
                    self.abort_append(None, Status::Bad, "", "Expected ')' after a UTF8 literal");
                    self.phase = Phase::SkipLine { tail: Vec::new() };
                    true
                }
            },
            Stage::UrlData { length } => {
                let length = length as usize;
                if self.input.len() - self.start < length {
                    self.needs_input = true;
                    return false;
                }
                let url = AString::from_bytes(self.input[self.start..self.start + length].to_vec())
                    .ok()
                    .and_then(|text| ImapUrl::from_astring(text).ok());
                self.consume(length);
                if let Phase::Append(stream) = &mut self.phase {
                    stream.mid_line = true;
                }
                match url {
                    Some(url) => self.announce_part(PartKind::Url(url), None),
                    None => {
                        self.abort_append(None, Status::Bad, "", "Invalid URL");
                        self.phase = Phase::SkipLine { tail: Vec::new() };
                    }
                }
                true
            }
            Stage::Next => match stream.steps.pop_front() {
                Some(step) => {
                    self.take_step(step);
                    true
                }
                None => self.read_line(),
            },
        }
    }

    /// Acts on the next step of the line read last.
    fn take_step(&mut self, step: Step) {
        match step {
            Step::Message { flags, date, data } => self.announce_message(flags, date, data),
            Step::Url(url) => self.announce_part(PartKind::Url(url), None),
            Step::Text {
                mode,
                length,
                binary,
                utf8,
            } => self.announce_part(PartKind::Text { length, binary, utf8 }, Some((mode, length))),
            Step::UrlLiteral { mode, length } => {
                if length > self.config.decoder.limits.command_line as u64 {
                    return self.abort_append(Some((mode, length)), Status::Bad, "", "URL too long");
                }
                if self.non_sync_refused(Some((mode, length))) {
                    return self.abort_append(
                        Some((mode, length)),
                        Status::Bad,
                        "TOOBIG",
                        NON_SYNC_TOO_LARGE,
                    );
                }
                if mode == LiteralMode::Sync {
                    self.write(&Response::Continue(RespText::text("Ready for literal data")));
                }
                if let Phase::Append(stream) = &mut self.phase {
                    stream.stage = Stage::UrlData { length };
                }
            }
            Step::EndList => self.events.push_back(ServerEvent::AppendMessageEnd),
            Step::End => {
                let Phase::Append(stream) = std::mem::replace(&mut self.phase, Phase::Commands) else {
                    return;
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
            }
        }
    }

    /// Reads the next line of the command into steps; false when it has
    /// not all arrived.
    fn read_line(&mut self) -> bool {
        if !self.line_pending() {
            self.needs_input = true;
            return false;
        }
        let input = &self.input[self.start..];
        let limit = self.config.decoder.limits.command_line;
        let Some(lf) = memchr::memchr(b'\n', &input[..input.len().min(limit)]) else {
            self.abort_append(None, Status::Bad, "", "Command line too long");
            self.phase = Phase::SkipLine { tail: Vec::new() };
            return true;
        };
        let Phase::Append(stream) = &mut self.phase else {
            return false;
        };
        // The line is read whole from here: a failure skips nothing more.
        stream.mid_line = false;
        let Some(line) = line_body(&input[..=lf], self.config.decoder.leniency.bare_lf) else {
            self.consume(lf + 1);
            self.abort_append(None, Status::Bad, "", "Expected CRLF");
            return true;
        };
        let parsed = parse_line(line, stream.context, &self.config.decoder);
        let literal = crate::frame::literal_header(line).map(|(length, mode, _)| (mode, length));
        self.consume(lf + 1);
        match parsed {
            Ok((steps, context)) => {
                if let Phase::Append(stream) = &mut self.phase {
                    stream.steps = steps;
                    stream.context = context;
                }
            }
            Err(text) => self.abort_append(literal, Status::Bad, "", text),
        }
        true
    }

    /// The application took a chunk of APPEND data out of the queue.
    pub(super) fn append_data_taken(&mut self, len: usize) {
        self.append_buffered = self.append_buffered.saturating_sub(len);
    }

    pub(super) fn append_closed(&mut self) {
        if let Phase::Append(stream) = &self.phase {
            if stream.accepted {
                self.events.push_back(ServerEvent::AppendAborted);
            }
        }
    }
}

/// A line without its end (CRLF, or LF where the leniency allows it);
/// `None` for a bare LF otherwise.
fn line_body(line: &[u8], bare_lf: bool) -> Option<&[u8]> {
    let line = line.strip_suffix(b"\n")?;
    match line.strip_suffix(b"\r") {
        Some(body) => Some(body),
        None => bare_lf.then_some(line),
    }
}

/// The steps a line of an APPEND holds, from `context` on, and where the
/// next line starts; a literal header ends the line. The text of a BAD
/// for a line that breaks the grammar.
fn parse_line(
    mut line: &[u8],
    mut context: Context,
    config: &DecoderConfig,
) -> Result<(VecDeque<Step>, Context), &'static str> {
    const EXPECTED: &str = "Expected another message or the end of APPEND";
    let mut steps = VecDeque::new();
    loop {
        match context {
            Context::Between => {
                if line.is_empty() {
                    steps.push_back(Step::End);
                    return Ok((steps, context));
                }
                let (rest, flags, date) = append_opts(line, config).ok_or(EXPECTED)?;
                if let Some(rest) = strip_keyword(rest, b"CATENATE (") {
                    steps.push_back(Step::Message {
                        flags,
                        date,
                        data: MessageData::Catenate,
                    });
                    context = Context::List { first: true };
                    line = rest;
                    continue;
                }
                let (rest, utf8) = match strip_keyword(rest, b"UTF8 (") {
                    Some(rest) => (rest, true),
                    None => (rest, false),
                };
                let (mode, length, binary) = whole_literal_header(rest).ok_or(EXPECTED)?;
                if utf8 && !binary {
                    return Err("Expected a literal8 in the UTF8 form");
                }
                let data = MessageData::Literal {
                    mode,
                    length,
                    binary,
                    utf8,
                };
                steps.push_back(Step::Message { flags, date, data });
                return Ok((steps, context));
            }
            Context::List { first } => {
                const PART: &str = "Expected TEXT, URL or UTF8";
                if !first {
                    if let Some(rest) = line.strip_prefix(b")") {
                        steps.push_back(Step::EndList);
                        context = Context::Between;
                        line = rest;
                        continue;
                    }
                    line = line.strip_prefix(b" ").ok_or("Expected a space or ')'")?;
                }
                context = Context::List { first: false };
                if let Some(rest) = strip_keyword(line, b"TEXT ") {
                    // `TEXT SP literal`: a literal8 comes in the UTF8 form.
                    let (mode, length) = match whole_literal_header(rest) {
                        Some((mode, length, false)) => (mode, length),
                        _ => return Err("Expected a literal after TEXT"),
                    };
                    steps.push_back(Step::Text {
                        mode,
                        length,
                        binary: false,
                        utf8: false,
                    });
                    return Ok((steps, context));
                }
                if let Some(rest) = strip_keyword(line, b"UTF8 (") {
                    match whole_literal_header(rest) {
                        Some((mode, length, true)) => steps.push_back(Step::Text {
                            mode,
                            length,
                            binary: true,
                            utf8: true,
                        }),
                        _ => return Err("Expected a literal8 in the UTF8 form"),
                    }
                    return Ok((steps, context));
                }
                let rest = strip_keyword(line, b"URL ").ok_or(PART)?;
                if let Some((mode, length, false)) = whole_literal_header(rest) {
                    steps.push_back(Step::UrlLiteral { mode, length });
                    return Ok((steps, context));
                }
                let (rest, url) = url_astring(rest, config).ok_or("Invalid URL")?;
                steps.push_back(Step::Url(url));
                line = rest;
            }
        }
    }
}

/// `keyword` (ASCII letters in any case, as sent) at the start of `input`,
/// and what follows it.
fn strip_keyword<'a>(input: &'a [u8], keyword: &[u8]) -> Option<&'a [u8]> {
    let head = input.get(..keyword.len())?;
    head.eq_ignore_ascii_case(keyword)
        .then(|| &input[keyword.len()..])
}

/// `(mode, length, binary)` of a literal header that is all of `text`.
fn whole_literal_header(text: &[u8]) -> Option<(LiteralMode, u64, bool)> {
    let open = usize::from(text.first() == Some(&b'~'));
    if text.get(open) != Some(&b'{') || memchr::memrchr(b'{', text) != Some(open) {
        return None;
    }
    let (length, mode, binary) = crate::frame::literal_header(text)?;
    Some((mode, length, binary))
}

/// A URL sent as an atom or a quoted string, and what follows it on the
/// line.
fn url_astring<'a>(input: &'a [u8], config: &DecoderConfig) -> Option<(&'a [u8], ImapUrl<'static>)> {
    if input.first() == Some(&b'"') {
        let (rest, url) = ImapUrl::parse(input, config).ok()?;
        return Some((rest, url.into_owned()));
    }
    // An atom, up to the space or `)` after it: every octet must be an
    // ASTRING-CHAR (the astring parser would stop at the first other one).
    let end = memchr::memchr2(b' ', b')', input).unwrap_or(input.len());
    let atom = &input[..end];
    if atom.is_empty() || !atom.iter().all(|&b| crate::string::is_astring_char(b)) {
        return None;
    }
    let url = ImapUrl::from_astring(AString::from_bytes(atom).ok()?).ok()?;
    Some((&input[end..], url.into_owned()))
}

/// `tag SP "APPEND" SP mailbox` at the start of `prefix`, and its length.
fn append_head(prefix: &[u8], config: &DecoderConfig) -> Option<(Tag<'static>, Mailbox<'static>, usize)> {
    let tag = peek_tag(prefix)?;
    let rest = &prefix[tag.as_str().len() + 1..];
    let rest = strip_keyword(rest, b"APPEND ")?;
    let (rest, mailbox) = Mailbox::parse(rest, &config.leniency).ok()?;
    Some((tag, mailbox.into_owned(), prefix.len() - rest.len()))
}

/// `SP [flag-list SP] [date-time SP]`, a message's options before its
/// data: the flag list and date when sent, and what follows.
type Options<'a> = (&'a [u8], Option<Vec<Flag<'static>>>, Option<DateTime>);

fn append_opts<'a>(input: &'a [u8], config: &DecoderConfig) -> Option<Options<'a>> {
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
    Some((rest, flags, date))
}

#[cfg(test)]
mod tests {
    use super::{AString, DecoderConfig, HEADS_READ, ImapUrl, url_astring};
    use crate::server::{ServerConfig, ServerEvent, ServerSession};

    /// An APPEND of a thousand literals that the streaming reader does not
    /// take has its head read twice at most, not once per literal (the
    /// prefix grows with each, which made such a command quadratic).
    #[test]
    fn a_command_of_many_literals_is_offered_to_the_reader_twice_at_most() {
        let config = ServerConfig {
            allow_plaintext_login: true,
            ..ServerConfig::default()
        };
        let mut s = ServerSession::new(config);
        s.receive(b"a LOGIN u p\r\n");
        while let Some(event) = s.poll_event() {
            if let ServerEvent::Authenticate(r) = event {
                s.accept_login(r).unwrap();
            }
        }
        while s.poll_transmit().is_some() {}
        HEADS_READ.with(|n| n.set(0));
        let mut input = b"b APPEND INBOX CATENATE (URL ~{1+}\r\nx".to_vec();
        for _ in 0..1000 {
            input.extend_from_slice(b"{0+}\r\n");
        }
        input.extend_from_slice(b")\r\nc NOOP\r\n");
        s.receive(&input);
        while s.poll_event().is_some() {}
        let mut out = Vec::new();
        while let Some(bytes) = s.poll_transmit() {
            out.extend_from_slice(&bytes);
        }
        let out = String::from_utf8(out).unwrap();
        assert!(
            out.starts_with("b BAD ") && out.ends_with("c OK NOOP completed\r\n"),
            "{out}"
        );
        assert!(
            HEADS_READ.with(|n| n.get()) <= 2,
            "{} heads read",
            HEADS_READ.with(|n| n.get())
        );
    }

    proptest::proptest! {
        /// An atom URL is read where it stands, as the astring parser
        /// reads it followed by a line end: the same URL, or none, and the
        /// same rest of the line.
        #[test]
        fn an_atom_url_is_read_as_the_astring_parser_reads_it(
            text in proptest::collection::vec(
                proptest::prop_oneof![
                    6 => proptest::sample::select(b"imap:/;=UID1INBOXsection.[]".to_vec()),
                    1 => proptest::sample::select(vec![b' ', b')', b'%', b'*', b'{', b'"', b'\\', 0, 0x80, b'~']),
                ],
                0..40,
            ),
            prefix in proptest::sample::select(vec![&b""[..], b"/INBOX/;UID=", b"imap://h/INBOX/;UID="]),
        ) {
            let input = [prefix, &text].concat();
            proptest::prop_assume!(input.first() != Some(&b'"'));
            let config = DecoderConfig::default();
            let end = memchr::memchr2(b' ', b')', &input).unwrap_or(input.len());
            let mut line = input[..end].to_vec();
            line.extend_from_slice(b"\r\n");
            let reference = ImapUrl::parse(&line, &config)
                .ok()
                .filter(|(rest, _)| rest.len() == 2)
                .map(|(_, url)| (&input[end..], url.into_owned()));
            let got = url_astring(&input, &config);
            proptest::prop_assert_eq!(
                got.as_ref().map(|(rest, url)| (*rest, url.as_str())),
                reference.as_ref().map(|(rest, url)| (*rest, url.as_str()))
            );
            if let Some((_, url)) = got {
                proptest::prop_assert!(matches!(url.as_astring(), AString::Atom(_)));
            }
        }
    }
}
